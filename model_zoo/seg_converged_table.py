"""Tables of model_zoo/README.md "DigitScenes-seg from a converged start" from the work dirs of
``scripts/seg_converged_experiment.sh``.

    python model_zoo/seg_converged_table.py WORK_DIR [--json OUT]

``WORK_DIR`` holds runs named ``{arm}_s{seed}`` (the semi-supervised phase) and
``sup{frac}_s{seed}`` (the supervised headroom runs, ``frac`` in ``1_16``, ``1_8``, ``full``).
Every run counts with its **last** validation. Printed: the headroom (supervised mIoU and
digit-only mIoU at every validation), then per arm the mean +- sample std over seeds of the
digit-only mIoU (``fg_mIoU``, background left out) and the 11-class mIoU of the teacher and the
student, the gain of the arm's reported model over the supervised + EMA teacher (digit-only),
the share of the headroom it closes, ``(arm - sup_ema) / (sup_ema_full - sup_ema)``, and the
pseudo-label diagnostics (share of pixels kept, their accuracy against the held-out labels)
averaged over the second half of training. The reported model is the teacher, except for the
Dual Teacher arms (``dt*``), whose paper reports the student.
"""
import argparse
import os.path as osp
import re
import statistics
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from model_zoo import det_converged_table as det_table  # noqa: E402
from model_zoo.det_converged_table import fmt, mean_std, write_json  # noqa: E402
from tools.collect_results import iter_scalar_records, read_run  # noqa: E402

SUP = re.compile(r'^sup(?P<frac>1_\d+|full)$')
ORDER = ('sup_ema', 'mt', 'mt_thr0.8', 'mt_classaware', 'mt_classaware_mask', 'consensus', 'dt',
         'dt_epoch', 'oracle', 'sup_ema_full')
PSEUDO = ('unsup_conf_ratio', 'unsup_pseudo_acc')
MODELS = ('teacher', 'student', 'teacher2')


def reported(name: str) -> str:
    return 'student' if name.startswith('dt') else 'teacher'


def pseudo_means(work_dir: str) -> dict:
    """Pseudo-label diagnostics of the training log, averaged over its second half."""
    series = {k: [] for k in PSEUDO}
    for rec in iter_scalar_records(work_dir):
        for k in PSEUDO:
            if k in rec:
                series[k].append((rec.get('iter', rec.get('step', 0)), rec[k]))
    out = {}
    for k, pts in series.items():
        if pts:
            last = max(s for s, _ in pts)
            out[k] = statistics.mean(v for s, v in pts if s > last / 2)
    return out


def summarize(path: str) -> dict:
    return dict(val=read_run(path)['val'], pseudo=pseudo_means(path))


def collect(work_dir: str) -> dict:
    return det_table.collect(work_dir, summarize)


def arm_rows(groups: dict) -> dict:
    rows = {}
    for name, by_seed in groups.items():
        if SUP.match(name):
            continue
        iters = {r['iteration'] for r in by_seed.values()}
        if len(iters) != 1:
            raise ValueError(f'arm {name!r}: seeds stopped at different iterations '
                             f'{ {s: r["iteration"] for s, r in by_seed.items()} }')
        row = dict(seeds=sorted(by_seed), iteration=iters.pop(), reported=reported(name))
        for model in MODELS:
            for metric in ('fg_mIoU', 'mIoU'):
                vals = [r['metrics'].get(f'{model}/{metric}') for r in by_seed.values()]
                if all(v is not None for v in vals):
                    row[f'{model}/{metric}'] = mean_std(vals)
        for key in PSEUDO:  # (supervised + EMA never runs its teacher: no pseudo labels)
            vals = [r['pseudo'][key] for r in by_seed.values() if key in r['pseudo']]
            row[key] = statistics.mean(vals) if vals and not name.startswith('sup') else None
        rows[name] = row
    base, full = rows.get('sup_ema'), rows.get('sup_ema_full')
    for name, row in rows.items():
        key = f'{row["reported"]}/fg_mIoU'
        if base is None or key not in row:
            continue
        ref = base['teacher/fg_mIoU']
        row['gain'] = row[key][0] - ref[0]
        spread = [s for s in (row[key][1], ref[1]) if s is not None]
        row['gain_over_2std'] = (row['gain'] > 2 * max(spread)) if spread else None
        if full is not None and full['teacher/fg_mIoU'][0] != ref[0]:
            row['gap_closed'] = row['gain'] / (full['teacher/fg_mIoU'][0] - ref[0])
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('work_dir')
    p.add_argument('--json', help='also write the tables here')
    args = p.parse_args(argv)
    groups = collect(args.work_dir)
    sup = {n: g for n, g in groups.items() if SUP.match(n)}
    print('Headroom: supervised, digit-only mIoU / 11-class mIoU at each validation (seed 0)\n')
    steps = sorted({int(s) for g in sup.values() for r in g.values() for s in r['all_val']})
    print('| labels | ' + ' | '.join(str(s) for s in steps) + ' |')
    print('| --- | ' + ' | '.join('---' for _ in steps) + ' |')
    for name in sorted(sup):
        run = sup[name][min(sup[name])]
        cells = []
        for s in steps:
            m = run['all_val'].get(str(s))
            cells.append(f'{m["fg_mIoU"]:.1f} / {m["mIoU"]:.1f}' if m else '-')
        print(f'| {name[3:]} | ' + ' | '.join(cells) + ' |')
    rows = arm_rows(groups)
    print('\nSemi-supervised phase, last validation, mean +- std over seeds (digit-only mIoU; '
          '11-class mIoU)\n')
    print('| arm | seeds | iters | teacher | student | teacher2 | teacher mIoU | student mIoU | '
          'reported - sup+EMA teacher | gap closed | pixels kept | kept accuracy |')
    print('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |')
    names = [n for n in ORDER if n in rows] + sorted(set(rows) - set(ORDER))
    for n in names:
        r = rows[n]

        def cell(key, digits=1):
            return fmt(r[key], digits) if key in r else '-'

        def opt(key, f):
            return f.format(r[key]) if r.get(key) is not None else '-'

        print(f'| {n} | {",".join(map(str, r["seeds"]))} | {r["iteration"]} | '
              f'{cell("teacher/fg_mIoU")} | {cell("student/fg_mIoU")} | '
              f'{cell("teacher2/fg_mIoU")} | {cell("teacher/mIoU")} | {cell("student/mIoU")} | '
              f'{opt("gain", "{:+.1f}")} ({r["reported"]}) | {opt("gap_closed", "{:.0%}")} | '
              f'{opt("unsup_conf_ratio", "{:.2f}")} | {opt("unsup_pseudo_acc", "{:.3f}")} |')
    if args.json:
        write_json(args.json, sup, rows, groups)
    return 0


if __name__ == '__main__':
    sys.exit(main())
