"""Plot Grounded Teacher's relational context (the class-relation matrix) of a checkpoint.

    python tools/plot_relation.py CHECKPOINT [--out relation.png] [--classes zero one ...]

Reads ``relation.matrix`` and ``relation.observed`` from the checkpoint's state dict (a
MeanTeacherDetector trained with ``semi_train_cfg.relational_context``) and draws the matrix
as a heat map: row = the pseudo label's class, column = the class the student predicts there,
rows never observed greyed out. Also prints it. Class names come from the checkpoint's
``meta.dataset_meta`` unless given.
"""
import argparse
import os.path as osp
import sys


def load_relation(path: str):
    """``(matrix, observed, classes)`` of a checkpoint; ``SystemExit`` naming what is missing."""
    import torch
    if not osp.isfile(path):
        sys.exit(f'plot_relation: checkpoint {path} not found')
    ckpt = torch.load(path, map_location='cpu', weights_only=True)
    state = ckpt.get('state_dict', ckpt)
    if 'relation.matrix' not in state:
        sys.exit(f'plot_relation: {path} has no relation.matrix (train with '
                 f'semi_train_cfg.relational_context)')
    matrix, observed = state['relation.matrix'], state['relation.observed']
    classes = ((ckpt.get('meta') or {}).get('dataset_meta') or {}).get('classes')
    return matrix, observed, list(classes) if classes else None


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument('checkpoint')
    p.add_argument('--out', default='relation.png')
    p.add_argument('--classes', nargs='+')
    args = p.parse_args(argv)
    matrix, observed, classes = load_relation(args.checkpoint)
    k = matrix.shape[0]
    classes = args.classes or classes or [str(i) for i in range(k)]
    if len(classes) != k:
        sys.exit(f'plot_relation: {len(classes)} class names for a {k} x {k} matrix')
    width = max(len(c) for c in classes)
    print(' ' * width + ' ' + ' '.join(f'{c[:5]:>5}' for c in classes))
    for name, row, seen in zip(classes, matrix.tolist(), observed.tolist()):
        print(f'{name:>{width}} ' + ' '.join(f'{v:5.2f}' for v in row)
              + ('' if seen else '  (never observed)'))
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import numpy as np
    shown = np.ma.masked_array(matrix.numpy(), mask=~observed.numpy()[:, None].repeat(k, 1))
    fig, ax = plt.subplots(figsize=(1 + 0.5 * k, 1 + 0.45 * k))
    cmap = plt.get_cmap('viridis').copy()
    cmap.set_bad('lightgrey')
    im = ax.imshow(shown, cmap=cmap, vmin=0, vmax=1)
    ax.set_xticks(range(k), classes, rotation=60, ha='right')
    ax.set_yticks(range(k), classes)
    ax.set_xlabel('predicted class')
    ax.set_ylabel('pseudo-label class')
    for i in range(k):
        for j in range(k):
            if observed[i]:
                ax.text(j, i, f'{matrix[i, j]:.2f}', ha='center', va='center', fontsize=6,
                        color='white' if matrix[i, j] < 0.5 else 'black')
    ax.set_title('relational context')
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print(f'written: {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
