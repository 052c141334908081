"""Precision and recall of a detector's boxes against ground truth at every score threshold,
per class, beside the thresholds a training run's filter chose.

    python tools/expert_predictions.py CONFIG CHECKPOINT --ann-file GT.json --img-dir DIR \
        --out preds.json --score-thr 0.01
    python tools/score_pr_curve.py preds.json --ann-file GT.json [--run WORK_DIR ...] \
        [--fixed 0.5] [--out DIR]

``preds.json`` is what ``tools/expert_predictions.py`` writes (any mmdet detector, e.g. the
teacher's start checkpoint on the unlabeled split); ``GT.json`` is the COCO file holding the
held-out labels of the same images (``instances_train.1@10-unlabeled.gt.json``). A box is
correct when a ground-truth box of its class overlaps it at IoU >= ``--iou-thr``; a
ground-truth box is found when a correct box scores at least the threshold (the definition of
the training-time ``pseudo/precision`` and ``pseudo/recall``). Crowd annotations are left out.

With ``--run``, each run's per-class thresholds (``pseudo/thr/<class>`` as logged by
``PseudoLabelDiagnosticsHook``, their mean over the second half of training) are drawn on the
curves and scored: the printed table gives, per class, precision / recall at the fixed
threshold and at each run's. Writes ``score_pr_curve.json`` and ``score_pr_curve.png`` to
``--out`` (default: the folder of ``preds.json``).
"""
import argparse
import json
import math
import os
import os.path as osp
import sys
from typing import Dict, List

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
if __package__:
    from .plot_pseudo_labels import read_pseudo_scalars
else:  # python tools/score_pr_curve.py
    from plot_pseudo_labels import read_pseudo_scalars


class InputError(ValueError):
    """A predictions or annotation file that does not fit the other."""


def load_pairs(preds_path: str, ann_path: str):
    """``(classes, [(pred_dict, gt_boxes_xyxy, gt_labels)] per image)``; raises
    :class:`InputError` naming the file and what does not fit."""
    with open(preds_path) as f:
        preds = json.load(f)
    with open(ann_path) as f:
        ann = json.load(f)
    if not isinstance(preds, dict) or 'classes' not in preds or 'predictions' not in preds:
        raise InputError(f'{preds_path}: expected {{"classes": [...], "predictions": {{...}}}} '
                         f'(tools/expert_predictions.py), found keys '
                         f'{sorted(preds) if isinstance(preds, dict) else type(preds).__name__}')
    classes = list(preds['classes'])
    index = {name: i for i, name in enumerate(classes)}
    cat_to_label = {}
    for cat in ann.get('categories', []):
        if cat['name'] not in index:
            raise InputError(f'{ann_path}: category {cat["name"]!r} (id {cat["id"]}) is not '
                             f'one of the predictions\' classes {classes} ({preds_path})')
        cat_to_label[cat['id']] = index[cat['name']]
    gts: Dict[str, List] = {str(im['id']): [] for im in ann.get('images', [])}
    for a in ann.get('annotations', []):
        if a.get('iscrowd', 0):
            continue
        if a['category_id'] not in cat_to_label:
            raise InputError(f'{ann_path}: annotation {a.get("id")} has category_id '
                             f'{a["category_id"]}, which no category defines')
        x, y, w, h = a['bbox']
        gts.setdefault(str(a['image_id']), []).append(([x, y, x + w, y + h],
                                                       cat_to_label[a['category_id']]))
    missing = sorted(set(preds['predictions']) - set(gts), key=str)
    if missing:
        raise InputError(f'{preds_path}: predictions for image id(s) {missing[:5]} that '
                         f'{ann_path} does not have ({len(missing)} in all)')
    unpredicted = sorted(set(gts) - set(preds['predictions']), key=str)
    if unpredicted:
        raise InputError(f'{preds_path}: no predictions for image id(s) {unpredicted[:5]} of '
                         f'{ann_path} ({len(unpredicted)} in all); run '
                         f'tools/expert_predictions.py on the same annotation file')
    pairs = []
    for img_id, p in preds['predictions'].items():
        boxes = [g[0] for g in gts[img_id]]
        labels = [g[1] for g in gts[img_id]]
        pairs.append((p, boxes, labels))
    return classes, pairs


def matches(pairs, iou_thr: float = 0.5):
    """Every image's :func:`mtkit.filters.diagnostics.score_matches`, concatenated:
    ``(scores, labels, correct, gt_best, gt_labels)``."""
    import torch

    from mtkit.filters.diagnostics import score_matches
    cols = [[], [], [], [], []]
    for p, gt_boxes, gt_labels in pairs:
        boxes = torch.tensor(p['bboxes'], dtype=torch.float32).reshape(-1, 4)
        labels = torch.tensor(p['labels'], dtype=torch.long)
        scores = torch.tensor(p['scores'], dtype=torch.float32)
        gl = torch.tensor(gt_labels, dtype=torch.long)
        correct, best = score_matches(boxes, labels,
                                      torch.tensor(gt_boxes, dtype=torch.float32).reshape(-1, 4),
                                      gl, scores, iou_thr)
        for col, v in zip(cols, (scores, labels, correct, best, gl)):
            col.append(v)
    return tuple(torch.cat(c) for c in cols)


def counts_of(m, thresholds, num_classes: int):
    """:func:`mtkit.filters.diagnostics.score_pr_counts` of :func:`matches` at ``thresholds``."""
    import torch

    from mtkit.filters.diagnostics import score_pr_counts
    return score_pr_counts(*m, torch.as_tensor(thresholds, dtype=torch.float32), num_classes)


def run_thresholds(work_dir: str, classes: List[str]) -> Dict[str, float]:
    """Each class's logged threshold, averaged over the second half of training."""
    series = read_pseudo_scalars(work_dir)
    out = {}
    for name in classes:
        pts = series.get(f'pseudo/thr/{name}')
        if not pts:
            raise InputError(f'{work_dir}: no pseudo/thr/{name} logged (a filter chain with '
                             f'per-class thresholds and PseudoLabelDiagnosticsHook(per_class='
                             f'True) log them)')
        last = pts[-1][0]
        half = [v for step, v in pts if step > last / 2] or [pts[-1][1]]
        out[name] = sum(half) / len(half)
    return out


def _fmt(x) -> str:
    return '-' if x is None or (isinstance(x, float) and math.isnan(x)) else f'{x:.2f}'


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument('predictions')
    p.add_argument('--ann-file', required=True)
    p.add_argument('--run', nargs='*', default=[], help='training work dirs whose per-class '
                   'thresholds are drawn and scored')
    p.add_argument('--fixed', type=float, default=0.5, help='the fixed threshold compared')
    p.add_argument('--iou-thr', type=float, default=0.5)
    p.add_argument('--out', help='output folder (default: the predictions file\'s)')
    args = p.parse_args(argv)
    for path in [args.predictions, args.ann_file]:
        if not osp.isfile(path):
            print(f'score_pr_curve: {path} not found', file=sys.stderr)
            return 2
    import torch

    from mtkit.filters.diagnostics import precision_recall
    try:
        classes, pairs = load_pairs(args.predictions, args.ann_file)
        runs = {osp.basename(osp.normpath(wd)): run_thresholds(wd, classes) for wd in args.run}
    except (InputError, FileNotFoundError, ValueError) as e:
        print(f'score_pr_curve: {e}', file=sys.stderr)
        return 2
    grid = [round(0.01 * i, 2) for i in range(1, 100)]
    m = matches(pairs, args.iou_thr)
    counts = counts_of(m, grid, len(classes))
    prec, rec = precision_recall(counts)
    prec_all, rec_all = precision_recall(counts, per_class=False)
    # each class at the fixed threshold, and at each run's own thresholds (a (C, C) count
    # matrix whose diagonal is each class at its threshold)
    at = {'fixed': [args.fixed] * len(classes)}
    at.update({name: [thr[c] for c in classes] for name, thr in runs.items()})
    scored = {}
    for name, thr in at.items():
        pr, rc = precision_recall(counts_of(m, thr, len(classes)))
        idx = torch.arange(len(classes))
        scored[name] = dict(thresholds=thr, precision=pr[idx, idx].tolist(),
                            recall=rc[idx, idx].tolist(),
                            gt=counts['gt'].tolist())
    result = dict(predictions=args.predictions, ann_file=args.ann_file, iou_thr=args.iou_thr,
                  classes=classes, thresholds=grid, precision=prec.tolist(),
                  recall=rec.tolist(), precision_all=prec_all.tolist(),
                  recall_all=rec_all.tolist(), gt=counts['gt'].tolist(), at=scored)
    out = args.out or osp.dirname(osp.abspath(args.predictions))
    os.makedirs(out, exist_ok=True)
    with open(osp.join(out, 'score_pr_curve.json'), 'w') as f:
        json.dump(result, f, indent=1)
    header = ['class', 'gt'] + [f'{n} thr / P / R' for n in at]
    print('| ' + ' | '.join(header) + ' |')
    print('|' + ' --- |' * len(header))
    for c, name in enumerate(classes):
        cells = [name, str(int(counts['gt'][c]))]
        for n in at:
            s = scored[n]
            cells.append(f'{_fmt(s["thresholds"][c])} / {_fmt(s["precision"][c])} / '
                         f'{_fmt(s["recall"][c])}')
        print('| ' + ' | '.join(cells) + ' |')
    _plot(result, osp.join(out, 'score_pr_curve.png'))
    print(osp.join(out, 'score_pr_curve.json'))
    return 0


def _plot(result: dict, path: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    classes = result['classes']
    cols = min(5, len(classes))
    rows = math.ceil(len(classes) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False)
    styles = ['--', ':', '-.', (0, (1, 3))]
    for c, name in enumerate(classes):
        ax = axes[c // cols][c % cols]
        ax.plot(result['thresholds'], result['precision'][c], color='tab:blue', label='precision')
        ax.plot(result['thresholds'], result['recall'][c], color='tab:orange', label='recall')
        for k, (run, s) in enumerate(result['at'].items()):
            ax.axvline(s['thresholds'][c], color='k' if run == 'fixed' else 'tab:red',
                       ls=styles[k % len(styles)], lw=1, label=run)
        ax.set(title=f'{name} ({int(result["gt"][c])} boxes)', ylim=(0, 1.02), xlim=(0, 1))
        ax.tick_params(labelsize=7)
    for k in range(len(classes), rows * cols):
        axes[k // cols][k % cols].axis('off')
    axes[0][0].legend(fontsize=6)
    fig.supxlabel('score threshold')
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == '__main__':
    sys.exit(main())
