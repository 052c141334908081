"""Build the pseudo-label comparison table of tools/README.md from finished work dirs.

    python tools/pseudo_label_table.py NAME=WORK_DIR [NAME=WORK_DIR ...] [--json OUT]

For every run: bbox mAP at each validation (teacher and student for semi-supervised runs), and
the pseudo-label diagnostics averaged over the second half of training (boxes per image,
precision, recall, mean threshold) as logged by PseudoLabelDiagnosticsHook.
"""
import argparse
import json
import statistics

if __package__:
    from .collect_results import read_run
    from .plot_pseudo_labels import read_pseudo_scalars
else:  # python tools/pseudo_label_table.py
    from collect_results import read_run
    from plot_pseudo_labels import read_pseudo_scalars


PSEUDO = ('boxes_per_img', 'precision', 'recall', 'thr_mean')


def summarize(work_dir: str) -> dict:
    run = read_run(work_dir)
    out = dict(work_dir=work_dir, val=run['val'], pseudo={})
    try:
        series = read_pseudo_scalars(work_dir)
    except ValueError:  # supervised-only: no pseudo labels
        return out
    last = max(step for pts in series.values() for step, _ in pts)
    for key in PSEUDO:
        pts = [v for s, v in series.get(f'pseudo/{key}', []) if s > last / 2 and v == v]
        if pts:
            out['pseudo'][key] = statistics.mean(pts)
    return out


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument('runs', nargs='+', help='NAME=WORK_DIR')
    p.add_argument('--json')
    args = p.parse_args(argv)
    runs = {}
    for item in args.runs:
        name, path = item.split('=', 1)
        runs[name] = summarize(path)
    steps = sorted({int(s) for r in runs.values() for s in r['val']})
    head = ' | '.join(f'mAP@{s} T / S' for s in steps)
    print(f'| run | {head} | boxes/img | precision | recall | mean thr |')
    print('| --- |' + ' --- |' * (len(steps) + 4))
    for name, r in runs.items():
        cells = []
        for s in steps:
            m = r['val'].get(str(s), {})
            if 'teacher/coco/bbox_mAP' in m:
                cells.append(f"{m['teacher/coco/bbox_mAP']:.3f} / "
                             f"{m['student/coco/bbox_mAP']:.3f}")
            elif 'coco/bbox_mAP' in m:
                cells.append(f"{m['coco/bbox_mAP']:.3f}")
            else:
                cells.append('-')
        ps = [r['pseudo'].get(k) for k in PSEUDO]
        cells += ['-' if v is None else f'{v:.2f}' for v in ps]
        print(f'| {name} | ' + ' | '.join(cells) + ' |')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(runs, f, indent=1)


if __name__ == '__main__':
    main()
