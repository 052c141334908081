"""Tables of model_zoo/README.md "DigitScenes-det from a converged start" from the work dirs
of ``scripts/det_converged_experiment.sh``.

    python model_zoo/det_converged_table.py WORK_DIR [--json OUT]

``WORK_DIR`` holds runs named ``{arm}_s{seed}`` (the semi-supervised phase) and
``sup{pct}_s{seed}`` (the supervised headroom runs). Every run counts with its **last**
validation. Printed: the headroom (supervised at every validation), then per arm the mean +-
sample std over seeds of the teacher and student bbox mAP, the teacher's gain over supervised
+ EMA, the share of the headroom it closes, ``(arm - sup_ema) / (sup_ema_full - sup_ema)``
(teachers; ``sup_ema_full`` is the same protocol with all labels), and the pseudo-label
diagnostics averaged over the second half of training.

An arm named ``{name}{variant}`` with a variant suffix (``_1pct``: from the 1% checkpoint;
``_long``: a longer phase) is compared with ``sup_ema{variant}``, and with
``sup_ema_full{variant}`` where that ran (else ``sup_ema_full``); the table names both.
"""
import argparse
import glob
import json
import os.path as osp
import re
import statistics
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from model_zoo.pseudo_label_table import summarize  # noqa: E402

RUN = re.compile(r'^(?P<name>.+)_s(?P<seed>\d+)$')
T, S, SUP = 'teacher/coco/bbox_mAP', 'student/coco/bbox_mAP', 'coco/bbox_mAP'
ORDER = ('sup_ema', 'mt', 'mt_joint', 'mt_legacy', 'mt_w2', 'mt_thr0.7', 'mt_soft', 'mt_cls',
         'mt_extra', 'gmm', 'consensus', 'oracle1.0', 'oracle0.6', 'oracle0.3', 'sup_ema_full',
         'sup_ema_long', 'mt_long', 'sup_ema_1pct', 'mt_1pct')
VARIANTS = ('_1pct', '_long')


def references(name: str, names) -> tuple:
    """(supervised + EMA, full-label reference) arm names that ``name`` is compared with."""
    variant = next((v for v in VARIANTS if name.endswith(v)), '')
    full = f'sup_ema_full{variant}'
    return f'sup_ema{variant}', (full if full in names else 'sup_ema_full')


def mean_std(vals):
    return statistics.mean(vals), (statistics.stdev(vals) if len(vals) > 1 else None)


def fmt(ms, digits=3):
    m, s = ms
    return f'{m:.{digits}f}' + (f' +- {s:.{digits}f}' if s is not None else '')


def collect(work_dir: str, summarize_run=summarize) -> dict:
    """``{name: {seed: last validation, every validation, pseudo-label diagnostics}}`` of the
    runs ``{name}_s{seed}`` in ``work_dir``; ``summarize_run(path)`` gives a run's ``val`` and
    ``pseudo``."""
    groups = {}
    for path in sorted(glob.glob(osp.join(work_dir, '*_s*'))):
        m = RUN.match(osp.basename(path))
        if not m or not osp.isdir(path):
            continue
        run = summarize_run(path)
        if not run['val']:
            continue
        last = max(run['val'], key=int)
        groups.setdefault(m['name'], {})[int(m['seed'])] = dict(
            iteration=int(last), metrics=run['val'][last], all_val=run['val'],
            pseudo=run['pseudo'])
    return groups


def arm_rows(groups: dict) -> dict:
    rows = {}
    for name, by_seed in groups.items():
        if name.startswith('sup') and name[3:].isdigit():
            continue
        iters = {r['iteration'] for r in by_seed.values()}
        if len(iters) != 1:
            raise ValueError(f'arm {name!r}: seeds stopped at different iterations '
                             f'{ {s: r["iteration"] for s, r in by_seed.items()} }')
        row = dict(seeds=sorted(by_seed), iteration=iters.pop())
        for key, label in ((T, 'teacher'), (S, 'student')):
            row[label] = mean_std([r['metrics'][key] for r in by_seed.values()])
        for key in ('boxes_per_img', 'precision', 'recall'):
            vals = [r['pseudo'][key] for r in by_seed.values() if key in r['pseudo']]
            row[key] = statistics.mean(vals) if vals else None
        rows[name] = row
    for name, row in rows.items():
        row['baseline'], row['full_ref'] = references(name, rows)
        base, full = rows.get(row['baseline']), rows.get(row['full_ref'])
        if base is not None:
            row['gain'] = row['teacher'][0] - base['teacher'][0]
            spread = [s for s in (row['teacher'][1], base['teacher'][1]) if s is not None]
            row['gain_over_2std'] = (row['gain'] > 2 * max(spread)) if spread else None
        if base is not None and full is not None:
            row['gap_closed'] = row['gain'] / (full['teacher'][0] - base['teacher'][0])
    return rows


def write_json(path: str, sup: dict, rows: dict, groups: dict) -> None:
    """The tables as JSON: headroom runs at every validation, the arm rows, every run."""
    with open(path, 'w') as f:
        json.dump(dict(headroom={n: {str(s): r['all_val'] for s, r in g.items()}
                                 for n, g in sup.items()},
                       arms=rows,
                       runs={n: {str(s): r for s, r in g.items()} for n, g in groups.items()}),
                  f, indent=1)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('work_dir')
    p.add_argument('--json', help='also write the tables here')
    args = p.parse_args(argv)
    groups = collect(args.work_dir)
    sup = {n: g for n, g in groups.items() if n.startswith('sup') and n[3:].isdigit()}
    print('Headroom: supervised, bbox mAP at each validation (seed 0)\n')
    steps = sorted({int(s) for g in sup.values() for r in g.values() for s in r['all_val']})
    print('| labels | ' + ' | '.join(str(s) for s in steps) + ' |')
    print('| --- | ' + ' | '.join('---' for _ in steps) + ' |')
    for name in sorted(sup, key=lambda n: int(n[3:])):
        run = sup[name][min(sup[name])]
        print(f'| {name[3:]}% | ' + ' | '.join(
            f'{run["all_val"][str(s)][SUP]:.3f}' if str(s) in run['all_val'] else '-'
            for s in steps) + ' |')
    rows = arm_rows(groups)
    print('\nSemi-supervised phase, last validation, mean +- std over seeds\n')
    print('| arm | seeds | iters | teacher | student | teacher - sup+EMA | gap closed | '
          'pseudo boxes / img | precision | recall | compared with |')
    print('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |')
    names = [n for n in ORDER if n in rows] + sorted(set(rows) - set(ORDER))
    for n in names:
        r = rows[n]

        def opt(key, f='{:.2f}'):
            return f.format(r[key]) if r.get(key) is not None else '-'

        print(f'| {n} | {",".join(map(str, r["seeds"]))} | {r["iteration"]} | '
              f'{fmt(r["teacher"])} | {fmt(r["student"])} | {opt("gain", "{:+.3f}")} | '
              f'{opt("gap_closed", "{:.0%}")} | {opt("boxes_per_img")} | '
              f'{opt("precision")} | {opt("recall")} | {r["baseline"]}, {r["full_ref"]} |')
    if args.json:
        write_json(args.json, sup, rows, groups)
    return 0


if __name__ == '__main__':
    sys.exit(main())
