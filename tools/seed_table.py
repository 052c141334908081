"""Mean and spread over seeds of the last validation of runs, as a Markdown table.

    python tools/seed_table.py summary.json [--metrics KEY ...] [--order NAME ...] [--at ITER]

``summary.json`` is written by ``tools/collect_results.py``. Runs named ``NAME_s{seed}`` (the
work-dir names of the ``scripts/device_*.sh`` runs) are grouped by ``NAME``; each run counts
with its **last** validation (or the one at ``--at ITER``), so no run is picked by its
validation score. A group whose runs stopped at different iterations is an error: their means
would not compare.
"""
import argparse
import json
import re
import statistics
import sys
from typing import Dict, List, Optional, Sequence

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


def seed_stats(groups: Dict[str, Dict[int, tuple]],
               metrics: Sequence[str]) -> Dict[str, dict]:
    """Per group: seeds, iteration, and per metric (mean, sample std or None for one seed)."""
    out = {}
    for name, by_seed in groups.items():
        iters = {it for it, _ in by_seed.values()}
        if len(iters) != 1:
            per_seed = {s: it for s, (it, _) in sorted(by_seed.items())}
            raise ValueError(f'group {name!r}: its seeds stopped at different iterations '
                             f'(seed: iteration) {per_seed}; rerun them to the same length')
        row = dict(seeds=sorted(by_seed), iteration=iters.pop(), metrics={})
        for key in metrics:
            missing = [s for s, (_, v) in by_seed.items() if key not in v]
            if missing:
                raise KeyError(f'group {name!r}, seeds {missing}: no metric {key!r}')
            vals = [v[key] for _, v in by_seed.values()]
            row['metrics'][key] = (statistics.mean(vals),
                                   statistics.stdev(vals) if len(vals) > 1 else None)
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
