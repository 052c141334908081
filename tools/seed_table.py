"""Mean and spread over seeds of the last validation of runs: mtkit's one seed table.

    python tools/seed_table.py summary.json [--metrics KEY ...] [--order NAME ...] [--at ITER]

``summary.json`` is written by ``tools/collect_results.py``. Runs named ``NAME_s{seed}`` are
grouped by ``NAME``; each run counts with its **last** validation (or the one at ``--at
ITER``), so no run is picked by its validation score. A group whose runs stopped at different
iterations is an error: their means would not compare.

The experiment tables (``tools/experiment.py``, :func:`experiment_tables`) build on the same
grouping: the headroom runs at every validation, then per arm the mean +- sample std over seeds
of the teacher and the student, the gain of the arm's reported model over its supervised + EMA
baseline, the share of the headroom it closes, ``(arm - baseline) / (full - baseline)``, and
the pseudo-label diagnostics (``pseudo/...``, PseudoLabelDiagnosticsHook) averaged over the
second half of training, and (``table['peak']``) the reported model's best validation and its
drop to the last one (a collapse shows as a large peak - last).
"""
import argparse
import glob
import json
import os.path as osp
import re
import statistics
import sys
from typing import Dict, List, Optional, Sequence

if __package__:
    from .collect_results import iter_scalar_records, read_run, scalar_files
else:  # python tools/seed_table.py
    from collect_results import iter_scalar_records, read_run, scalar_files

SEED_SUFFIX = re.compile(r'^(?P<name>.+)_s(?P<seed>\d+)$')


def pick_validation(run: dict, run_name: str, at: Optional[int] = None) -> tuple:
    """(iteration, metrics) of the run's last validation, or of the one at iteration ``at``."""
    if not run.get('val'):
        raise ValueError(f'run {run_name!r}: no validation in summary (did it stop before the '
                         f'first val_interval?)')
    if at is None:
        step = max(run['val'], key=int)
    elif str(at) in run['val']:
        step = str(at)
    else:
        raise KeyError(f'run {run_name!r}: no validation at iteration {at} (it has '
                       f'{sorted(map(int, run["val"]))})')
    return int(step), run['val'][step]


def group_runs(summary: Dict[str, dict],
               at: Optional[int] = None) -> Dict[str, Dict[int, tuple]]:
    """{name: {seed: (iteration, metrics)}} from ``collect_results`` output; each run's last
    validation, or the one at iteration ``at`` (e.g. the last one all runs reached)."""
    groups: Dict[str, Dict[int, tuple]] = {}
    for run_name, run in summary.items():
        m = SEED_SUFFIX.match(run_name)
        if m is None:
            raise ValueError(f'run {run_name!r}: expected a name ending in _s<seed>')
        groups.setdefault(m['name'], {})[int(m['seed'])] = pick_validation(run, run_name, at)
    return groups


def mean_std(vals: Sequence[float]) -> tuple:
    """(mean, sample std or None for one value)."""
    return statistics.mean(vals), (statistics.stdev(vals) if len(vals) > 1 else None)


def common_iteration(kind: str, name: str, per_seed: Dict[int, int]) -> int:
    """The one iteration at which all seeds of a group stopped; else a ``ValueError`` naming
    the group and each seed's iteration (their means would not compare)."""
    iters = set(per_seed.values())
    if len(iters) != 1:
        raise ValueError(f'{kind} {name!r}: seeds stopped at different iterations (seed: '
                         f'iteration) {dict(sorted(per_seed.items()))}; rerun them to the same '
                         f'length')
    return iters.pop()


def seed_stats(groups: Dict[str, Dict[int, tuple]],
               metrics: Sequence[str]) -> Dict[str, dict]:
    """Per group: seeds, iteration, and per metric (mean, sample std or None for one seed)."""
    out = {}
    for name, by_seed in groups.items():
        iteration = common_iteration('group', name, {s: it for s, (it, _) in by_seed.items()})
        row = dict(seeds=sorted(by_seed), iteration=iteration, metrics={})
        for key in metrics:
            missing = [s for s, (_, v) in by_seed.items() if key not in v]
            if missing:
                raise KeyError(f'group {name!r}, seeds {missing}: no metric {key!r}')
            row['metrics'][key] = mean_std([v[key] for _, v in by_seed.values()])
        out[name] = row
    return out


def markdown(stats: Dict[str, dict], metrics: Sequence[str],
             order: Optional[List[str]] = None) -> str:
    names = list(order) if order else sorted(stats)
    unknown = [n for n in names if n not in stats]
    if unknown:
        raise KeyError(f'--order names {unknown} are not among the runs {sorted(stats)}')
    lines = ['| run | seeds | iters | ' + ' | '.join(metrics) + ' |',
             '| --- | --- | --- | ' + ' | '.join('---' for _ in metrics) + ' |']
    for n in names:
        row = stats[n]
        cells = []
        for key in metrics:
            mean, std = row['metrics'][key]
            cells.append(f'{mean:.2f}' if std is None else f'{mean:.2f} +- {std:.2f}')
        lines.append(f"| {n} | {len(row['seeds'])} | {row['iteration']} | "
                     + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


# ----------------------------------------------------------------------------- experiments
#: names under which older logs carry today's pseudo-label diagnostics
PSEUDO_ALIASES = {'unsup_conf_ratio': 'pseudo/kept_share', 'unsup_pseudo_acc': 'pseudo/accuracy'}


def fmt(ms: tuple, digits: int = 3) -> str:
    m, s = ms
    return f'{m:.{digits}f}' + (f' +- {s:.{digits}f}' if s is not None else '')


def pseudo_means(work_dir: str) -> Dict[str, float]:
    """Every ``pseudo/...`` training scalar of a run (older names mapped by
    :data:`PSEUDO_ALIASES`) averaged over the second half of its training; NaN values (an
    interval without pseudo labels) are left out. A run that never trained (a test-only run)
    has none."""
    series: Dict[str, Dict[int, float]] = {}
    if not scalar_files(work_dir):
        return {}
    for rec in iter_scalar_records(work_dir):
        step = rec.get('iter', rec.get('step'))
        if step is None:
            continue
        for key, value in rec.items():
            key = PSEUDO_ALIASES.get(key, key)
            if key.startswith('pseudo/') and isinstance(value, (int, float)):
                series.setdefault(key, {})[int(step)] = float(value)  # a resume overwrites
    out = {}
    for key, pts in series.items():
        last = max(pts)
        vals = [v for s, v in pts.items() if s > last / 2 and v == v]
        if vals:
            out[key] = statistics.mean(vals)
    return out


def unfinished_runs(work_dir: str) -> list:
    """The run folders in ``work_dir`` that ``tools/experiment.py`` started (``started.json``)
    and that have not finished with exit code 0 (no ``done.json``), sorted."""
    return sorted(osp.basename(osp.dirname(p))
                  for p in glob.glob(osp.join(work_dir, '*_s*', 'started.json'))
                  if not osp.isfile(osp.join(osp.dirname(p), 'done.json')))


def read_experiment_runs(work_dir: str, arms: Optional[Sequence[str]] = None) -> dict:
    """``{arm: {seed: dict(iteration, metrics, all_val, pseudo)}}`` of the runs
    ``{arm}_s{seed}`` in ``work_dir`` that validated at least once (only ``arms`` if given);
    each with its last validation. A run that ``tools/experiment.py`` started and has not
    finished (``started.json`` without ``done.json``: still going, or failed) is left out
    (:func:`unfinished_runs` names them)."""
    groups: dict = {}
    unfinished = set(unfinished_runs(work_dir))
    for path in sorted(glob.glob(osp.join(work_dir, '*_s*'))):
        m = SEED_SUFFIX.match(osp.basename(path))
        if not m or not osp.isdir(path) or (arms is not None and m['name'] not in arms) \
                or osp.basename(path) in unfinished:
            continue
        try:
            run = read_run(path)
        except FileNotFoundError:  # not started yet
            continue
        if not run['val']:
            continue
        iteration, metrics = pick_validation(run, osp.basename(path))
        groups.setdefault(m['name'], {})[int(m['seed'])] = dict(
            iteration=iteration, metrics=metrics, all_val=run['val'], pseudo=pseudo_means(path))
    return groups


def arm_rows(groups: dict, arms: dict, table: dict) -> dict:
    """Per semi-supervised arm (``arms[name]['stage'] != 'sup'``): seeds, iteration, mean +-
    std of ``{model}/{metric}`` for every model of ``table['models']`` and every metric of
    ``table['metric']`` + ``table['extra']``, pseudo-label means, and, against the arm's
    ``baseline`` and ``full`` references (arm names), ``gain`` of its ``reported`` model over
    the baseline's teacher, whether it exceeds 2 std, and ``gap_closed``."""
    rows = {}
    metrics = [table['metric']] + list(table.get('extra', ()))
    for name, by_seed in groups.items():
        spec = arms.get(name, {})
        if spec.get('stage') == 'sup':
            continue
        iteration = common_iteration('arm', name,
                                     {s: r['iteration'] for s, r in by_seed.items()})
        row = dict(seeds=sorted(by_seed), iteration=iteration,
                   reported=spec.get('reported', 'teacher'),
                   baseline=spec.get('baseline', table.get('baseline')),
                   full=spec.get('full', table.get('full')))
        for model in table.get('models', ('teacher', 'student')):
            for metric in metrics:
                vals = [r['metrics'].get(f'{model}/{metric}') for r in by_seed.values()]
                if all(v is not None for v in vals):
                    row[f'{model}/{metric}'] = mean_std(vals)
        # the reported model's best validation and its drop to the last one, per seed
        rep = f'{row["reported"]}/{table["metric"]}'
        peaks = [max((v[rep] for v in r['all_val'].values() if rep in v), default=None)
                 for r in by_seed.values()]
        lasts = [r['metrics'].get(rep) for r in by_seed.values()]
        if all(p is not None for p in peaks) and all(v is not None for v in lasts):
            row['peak'] = mean_std(peaks)
            row['peak_minus_last'] = mean_std([p - v for p, v in zip(peaks, lasts)])
        no_pseudo = spec.get('pseudo', True) is False
        for key in table.get('pseudo', ()):
            vals = [r['pseudo'][key] for r in by_seed.values() if key in r['pseudo']]
            row[key] = statistics.mean(vals) if vals and not no_pseudo else None
        rows[name] = row
    key = table['metric']
    for name, row in rows.items():
        base, full = rows.get(row['baseline']), rows.get(row['full'])
        mine = row.get(f'{row["reported"]}/{key}')
        if base is None or mine is None or f'teacher/{key}' not in base:
            continue
        ref = base[f'teacher/{key}']
        row['gain'] = mine[0] - ref[0]
        spread = [s for s in (mine[1], ref[1]) if s is not None]
        row['gain_over_2std'] = (row['gain'] > 2 * max(spread)) if spread else None
        if full is not None and f'teacher/{key}' in full and full[f'teacher/{key}'][0] != ref[0]:
            row['gap_closed'] = row['gain'] / (full[f'teacher/{key}'][0] - ref[0])
    return rows


def experiment_tables(groups: dict, arms: dict, table: dict) -> tuple:
    """(Markdown text, rows): the headroom table of the ``stage='sup'`` arms (seed 0, every
    validation) and the arm table (:func:`arm_rows`), arms in the experiment file's order."""
    digits = int(table.get('digits', 3))
    key, metric = table['metric'], table.get('headroom_metric', table['metric'])
    lines = []
    sup = [n for n, spec in arms.items() if spec.get('stage') == 'sup' and n in groups]
    if sup:
        steps = sorted({int(s) for n in sup for r in groups[n].values() for s in r['all_val']})
        lines += [f'Headroom: supervised, {metric} at each validation (seed '
                  f'{min(groups[sup[0]])})', '',
                  '| run | ' + ' | '.join(str(s) for s in steps) + ' |',
                  '| --- | ' + ' | '.join('---' for _ in steps) + ' |']
        for n in sup:
            run = groups[n][min(groups[n])]['all_val']
            lines.append(f'| {n} | ' + ' | '.join(
                f'{run[str(s)][metric]:.{digits}f}' if str(s) in run and metric in run[str(s)]
                else '-' for s in steps) + ' |')
        lines.append('')
    rows = arm_rows(groups, arms, table)
    models = list(table.get('models', ('teacher', 'student')))
    extra = list(table.get('extra', ()))
    pseudo = list(table.get('pseudo', ()))
    extra_models = list(table.get('extra_models', models[:2]))
    cols = [f'{m}' for m in models] + [f'{m} {e}' for e in extra for m in extra_models]
    if table.get('peak'):
        cols += ['peak (reported)', 'peak - last']
    lines += [f'Semi-supervised phase ({key}), last validation, mean +- std over seeds', '',
              '| arm | seeds | iters | ' + ' | '.join(cols) + ' | reported - baseline teacher '
              '| gap closed | ' + ' | '.join(pseudo) + ' | compared with |',
              '| --- ' * (3 + len(cols) + 2 + len(pseudo) + 1) + '|']
    order = [n for n in arms if n in rows] + sorted(set(rows) - set(arms))
    for n in order:
        r = rows[n]

        def cell(k):
            return fmt(r[k], digits) if k in r else '-'

        def opt(k, f):
            return f.format(r[k]) if r.get(k) is not None else '-'

        cells = [cell(f'{m}/{key}') for m in models]
        cells += [cell(f'{m}/{e}') for e in extra for m in extra_models]
        if table.get('peak'):
            cells += [cell('peak'), cell('peak_minus_last')]
        gain = f'{r["gain"]:+.{digits}f} ({r["reported"]})' if 'gain' in r else '-'
        lines.append(f'| {n} | {",".join(map(str, r["seeds"]))} | {r["iteration"]} | '
                     + ' | '.join(cells) + f' | {gain} | {opt("gap_closed", "{:.0%}")} | '
                     + ' | '.join(opt(k, '{:.3f}') for k in pseudo)
                     + f' | {", ".join(str(b) for b in (r["baseline"], r["full"]) if b)} |')
    if table.get('reference'):
        lines += reference_lines(rows, table)
    return '\n'.join(lines), rows


def _zoo_value(row: dict, model: str, key: str):
    """(mean, std) of ``model`` in a model zoo JSON arm row: ``'{model}/{key}'`` (the
    experiment tables) or ``model`` (older tables, one metric)."""
    value = row.get(f'{model}/{key}', row.get(model))
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise KeyError(f'no {model}/{key} (mean, std) in the row')
    return tuple(value)


def reference_lines(rows: dict, table: dict, root: Optional[str] = None) -> List[str]:
    """This experiment's gain beside a measured one from the model zoo
    (``table['reference']``: ``file`` (a model zoo JSON), ``arm`` and ``baseline`` there,
    ``run_arm`` here (compared with this table's ``baseline``), ``model`` ('teacher'), and
    ``what``, how the model zoo measured it). A short run's gain is noise next to a measured
    one: the table says which is which. Missing pieces are a ``KeyError`` naming the file. A
    relative ``file`` is under ``root`` (default: the repository)."""
    ref = table['reference']
    root = root or osp.dirname(osp.dirname(osp.abspath(__file__)))
    digits = int(table.get('digits', 3))
    key, model = table['metric'], ref.get('model', 'teacher')
    path = ref['file'] if osp.isabs(ref['file']) else osp.join(root, ref['file'])
    with open(path) as f:
        zoo = json.load(f)['arms']
    out = ['', f'This run beside the model zoo ({model}, {key}):', '',
           f'| | {ref["run_arm"]} | {table["baseline"]} | gain | seeds | iters |',
           '| --- | --- | --- | --- | --- | --- |']
    run, base = rows.get(ref['run_arm']), rows.get(table['baseline'])
    if run is not None and base is not None and f'{model}/{key}' in run:
        a, b = run[f'{model}/{key}'], base[f'{model}/{key}']
        out.append(f'| this run (one short run: its gain is within run-to-run noise) | '
                   f'{fmt(a, digits)} | {fmt(b, digits)} | {a[0] - b[0]:+.{digits}f} | '
                   f'{",".join(map(str, run["seeds"]))} | {run["iteration"]} |')
    try:
        za, zb = zoo[ref['arm']], zoo[ref['baseline']]
        ma, mb = _zoo_value(za, model, key), _zoo_value(zb, model, key)
    except KeyError as e:
        raise KeyError(f'{path}: {e}') from None
    out.append(f'| model zoo, measured ({ref["arm"]} vs {ref["baseline"]}: {ref["what"]}) | '
               f'{fmt(ma, digits)} | {fmt(mb, digits)} | {ma[0] - mb[0]:+.{digits}f} | '
               f'{",".join(map(str, za["seeds"]))} | {za["iteration"]} |')
    return out


def write_experiment_json(path: str, groups: dict, arms: dict, rows: dict) -> None:
    """The tables as JSON: headroom runs at every validation, the arm rows, every run."""
    sup = [n for n, spec in arms.items() if spec.get('stage') == 'sup' and n in groups]
    with open(path, 'w') as f:
        json.dump(dict(headroom={n: {str(s): r['all_val'] for s, r in groups[n].items()}
                                 for n in sup},
                       arms=rows,
                       runs={n: {str(s): r for s, r in g.items()} for n, g in groups.items()}),
                  f, indent=1)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('summary')
    p.add_argument('--metrics', nargs='+',
                   default=['teacher/clip/mIoU', 'teacher/clip/clip_mIoU',
                            'teacher/clip/flicker', 'student/clip/mIoU'])
    p.add_argument('--order', nargs='+')
    p.add_argument('--at', type=int, help='use the validation at this iteration, not the last')
    p.add_argument('--json', help='also write the statistics here')
    args = p.parse_args(argv)
    with open(args.summary) as f:
        summary = json.load(f)
    stats = seed_stats(group_runs(summary, args.at), args.metrics)
    print(markdown(stats, args.metrics, args.order))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(stats, f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
