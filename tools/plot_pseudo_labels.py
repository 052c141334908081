"""Plot the pseudo-label diagnostics of a training run as PNG files.

Reads every ``WORK_DIR/<timestamp>/vis_data/scalars.json`` (MMEngine's LocalVisBackend; a
resumed run has several) and draws what :class:`mtkit.hooks.PseudoLabelDiagnosticsHook`
logged under ``pseudo/``:

* ``pseudo_thresholds.png``: per-class thresholds over iterations (and their mean);
* ``pseudo_precision_recall.png``: pseudo-label precision and recall at IoU 0.5;
* ``pseudo_boxes.png``: pseudo boxes per image (kept and before filtering) and the share of
  the unsupervised loss in the total;
* ``pseudo_coupling.png`` (pixel pseudo labels): teacher-student agreement, over all valid
  pixels and class-mean, and the kept share and accuracy.

A figure is drawn only when some run logged what it shows (segmentation runs get the coupling
figure, detection runs the other three).

    python tools/plot_pseudo_labels.py WORK_DIR [WORK_DIR ...] [--out DIR]

With several work dirs the curves are overlaid, one line style per run.
"""
import argparse
import os
import os.path as osp
import sys
from collections import defaultdict
from typing import Dict, List, Tuple

if __package__:
    from .collect_results import iter_scalar_records
else:  # python tools/plot_pseudo_labels.py
    from collect_results import iter_scalar_records


Series = Dict[str, List[Tuple[int, float]]]


def read_pseudo_scalars(work_dir: str) -> Series:
    """``{key: [(step, value), ...]}`` of every ``pseudo/`` scalar, sorted by step."""
    series: Series = defaultdict(dict)
    for row in iter_scalar_records(work_dir):
        step = row.get('step', row.get('iter'))
        if step is None:
            continue
        for key, value in row.items():
            # NaN (e.g. precision of an interval without pseudo boxes) plots as a gap
            if key.startswith('pseudo/') and isinstance(value, (int, float)):
                series[key][int(step)] = float(value)  # a resumed run overwrites
    if not series:
        raise ValueError(f'{work_dir}: the scalars hold no pseudo/ values; add '
                         f"dict(type='mtkit.PseudoLabelDiagnosticsHook') to custom_hooks")
    return {k: sorted(v.items()) for k, v in series.items()}


STYLES = ['-', '--', ':', '-.']  # one line style per run


def _line(ax, pts, label, style, **kw):
    if pts:
        ax.plot([p[0] for p in pts], [p[1] for p in pts], style, label=label, **kw)


def plot(runs: Dict[str, Series], out_dir: str) -> List[str]:
    import matplotlib
    matplotlib.use('Agg')
    os.makedirs(out_dir, exist_ok=True)

    def logged(*keys):  # a figure is drawn only when some run logged what it shows
        return any(k in s or any(n.startswith(k + '/') for n in s)
                   for s in runs.values() for k in keys)

    figures = ((_thresholds, ('pseudo/thr', 'pseudo/thr_mean')),
               (_precision_recall, ('pseudo/precision', 'pseudo/recall')),
               (_boxes, ('pseudo/boxes_per_img', 'pseudo/raw_per_img')),
               (_coupling, ('pseudo/agreement', )))
    return [draw(runs, out_dir) for draw, keys in figures if logged(*keys)]


def _thresholds(runs, out_dir):
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 5))
    for r, (name, s) in enumerate(runs.items()):
        style = STYLES[r % len(STYLES)]
        per_class = sorted(k for k in s if k.startswith('pseudo/thr/'))
        for k in per_class:
            _line(ax, s[k], f'{name}: {k[len("pseudo/thr/"):]}', style, lw=1, alpha=0.7)
        _line(ax, s.get('pseudo/thr_mean'), f'{name}: mean', style, lw=2.5, color='k')
    ax.set(xlabel='iteration', ylabel='score threshold', title='pseudo-label thresholds')
    ax.legend(fontsize=6, ncol=2)
    return _save(fig, out_dir, 'pseudo_thresholds.png')


def _precision_recall(runs, out_dir):
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 5))
    for r, (name, s) in enumerate(runs.items()):
        style = STYLES[r % len(STYLES)]
        _line(ax, s.get('pseudo/precision'), f'{name}: precision', style, color='tab:blue')
        _line(ax, s.get('pseudo/recall'), f'{name}: recall', style, color='tab:orange')
    ax.set(xlabel='iteration', ylim=(0, 1), title='pseudo labels vs held-out ground truth '
           '(IoU 0.5)')
    ax.legend(fontsize=8)
    return _save(fig, out_dir, 'pseudo_precision_recall.png')


def _boxes(runs, out_dir):
    import matplotlib.pyplot as plt
    fig, (ax, ax2, ax3) = plt.subplots(1, 3, figsize=(15, 4.5))
    for r, (name, s) in enumerate(runs.items()):
        style = STYLES[r % len(STYLES)]
        _line(ax, s.get('pseudo/boxes_per_img'), name, style)
        _line(ax2, s.get('pseudo/raw_per_img'), name, style)
        _line(ax3, s.get('pseudo/unsup_share'), name, style)
    ax.set(xlabel='iteration', ylabel='boxes per image', title='kept pseudo boxes')
    ax2.set(xlabel='iteration', ylabel='boxes per image', title='teacher boxes before filtering')
    ax3.set(xlabel='iteration', ylim=(0, 1), title='unsupervised share of the loss')
    for a in (ax, ax2, ax3):
        a.legend(fontsize=8)
    return _save(fig, out_dir, 'pseudo_boxes.png')


def _coupling(runs, out_dir):
    import matplotlib.pyplot as plt
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    for r, (name, s) in enumerate(runs.items()):
        style = STYLES[r % len(STYLES)]
        _line(ax, s.get('pseudo/class_agreement'), f'{name}: class-mean', style, color=f'C{r}')
        _line(ax, s.get('pseudo/agreement'), f'{name}: all pixels', style, color=f'C{r}',
             alpha=0.4)
        _line(ax2, s.get('pseudo/kept_share'), f'{name}: kept share', style, color=f'C{r}')
        _line(ax2, s.get('pseudo/accuracy'), f'{name}: kept accuracy', style, color=f'C{r}',
             alpha=0.4)
    ax.set(xlabel='iteration', ylabel='student predicts the teacher\'s label',
           title='teacher-student coupling')
    ax2.set(xlabel='iteration', title='pixel pseudo labels')
    for a in (ax, ax2):
        a.legend(fontsize=7)
    return _save(fig, out_dir, 'pseudo_coupling.png')


def _save(fig, out_dir, name):
    path = osp.join(out_dir, name)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    import matplotlib.pyplot as plt
    plt.close(fig)
    return path


def main(argv=None):
    ap = argparse.ArgumentParser(description='Plot pseudo-label diagnostics of training runs.')
    ap.add_argument('work_dirs', nargs='+')
    ap.add_argument('--out', help='output folder (default: WORK_DIR/plots of the first run)')
    args = ap.parse_args(argv)
    runs = {}
    for wd in args.work_dirs:
        name = osp.basename(osp.normpath(wd))
        if name in runs:
            name = wd
        try:
            runs[name] = read_pseudo_scalars(wd)
        except (FileNotFoundError, ValueError) as e:
            print(f'error: {e}', file=sys.stderr)
            return 1
    out = args.out or osp.join(args.work_dirs[0], 'plots')
    for path in plot(runs, out):
        print(path)
    return 0


if __name__ == '__main__':
    sys.exit(main())
