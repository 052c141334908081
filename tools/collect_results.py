"""Collect validation metrics of finished (or stopped) runs into one JSON / Markdown table.

    python tools/collect_results.py WORK_DIR [WORK_DIR ...] [--out results.json]

Each WORK_DIR is a ``tools/train.py`` work dir; the metrics come from the newest
``*/vis_data/scalars.json`` in it (MMEngine's LocalVisBackend), or, for a test-only run, from
its ``test_metrics.json`` (``tools/test.py --out``, reported at iteration 0). Prints, per run,
the metrics at every validation step and the mean seconds per training iteration.
"""
import argparse
import glob
import json
import os.path as osp
import statistics
import sys
from typing import Iterator

# substrings of the validation metrics collected: COCO box mAP, the rare classes' mAP
# (GroupedCocoMetric), (clip) mIoU, per-class IoU (ForegroundIoUMetric per_class) and
# ClipSegMetric's temporal flicker
METRIC_KEYS = ('bbox_mAP', 'rare_mAP', 'mIoU', 'IoU.', 'flicker')


def scalar_files(work_dir: str) -> list:
    """``WORK_DIR/*/vis_data/scalars.json`` (MMEngine's LocalVisBackend), oldest first: a
    resumed run writes a second timestamped folder."""
    return sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))


def iter_scalar_records(work_dir: str) -> Iterator[dict]:
    """Every record of the run's :func:`scalar_files`, in file order."""
    files = scalar_files(work_dir)
    if not files:
        raise FileNotFoundError(f'{work_dir}: no */vis_data/scalars.json (did the run start, '
                                f'with a LocalVisBackend as in the default runtime?)')
    for path in files:
        with open(path) as f:
            for n, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as e:
                    raise ValueError(f'{path}, line {n}: not JSON ({e})') from e


#: Metrics of a test-only run (``tools/test.py --out``, e.g. a source-only reference), read as
#: one validation at iteration 0 when the work dir has no training scalars.
TEST_METRICS = 'test_metrics.json'


def read_run(work_dir: str) -> dict:
    test_file = osp.join(work_dir, TEST_METRICS)
    if osp.isfile(test_file) and not scalar_files(work_dir):
        with open(test_file) as f:
            metrics = {k: v for k, v in json.load(f).items()
                       if any(m in k for m in METRIC_KEYS)}
        return dict(work_dir=work_dir, last_train_iter=0, val={'0': metrics},
                    sec_per_iter=None)
    vals, times, last_iter = {}, [], 0
    for rec in iter_scalar_records(work_dir):
        step = rec.get('step', rec.get('iter', 0))
        metrics = {k: v for k, v in rec.items() if any(m in k for m in METRIC_KEYS)}
        if metrics:
            # logged by epoch (LoggerHook log_metric_by_epoch=True) the step is the
            # epoch, 0 in iteration-based training: use the last training iteration
            vals[str(step if step > 0 else last_iter)] = metrics
        elif 'loss' in rec:
            last_iter = max(last_iter, rec.get('iter', step))
            if 'time' in rec:
                times.append(rec['time'])
    return dict(work_dir=work_dir, last_train_iter=last_iter, val=vals,
                sec_per_iter=statistics.mean(times[1:]) if len(times) > 1 else None)


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument('work_dirs', nargs='+')
    p.add_argument('--out')
    args = p.parse_args(argv)
    runs = {}
    for wd in args.work_dirs:
        try:
            runs[osp.basename(osp.normpath(wd))] = read_run(wd)
        except FileNotFoundError as e:
            print(f'skipped: {e}', file=sys.stderr)
    text = json.dumps(runs, indent=1)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(text)
    print(text)


if __name__ == '__main__':
    main()
