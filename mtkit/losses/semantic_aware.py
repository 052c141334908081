"""Class relations and the semantic-aware classification weights of Grounded Teacher (Ashraf et
al., "Context Aware Grounded Teacher for Source Free Object Detection"), pure.

The *relational context* is a (K, K) matrix ``C``: row ``g`` is the distribution of the classes
the detector predicts for objects labeled ``g`` (pseudo labels), smoothed over training by an
EMA of each batch's row-normalised confusion counts (rows without an object keep their value).
A class the detector learns well has a large diagonal ``C[g, g]``; a class it confuses has its
mass off the diagonal.

The semantic-aware loss reweights each object's classification loss by that matrix: an object
predicted right gets ``1 - C[g, g]`` (classes already predicted right weigh little), one
predicted as ``p != g`` gets ``C[g, p]`` (a frequent confusion weighs more); the weights are
divided by their mean (so the loss keeps its scale) and pulled towards 1 by ``reg``:
``(w + reg) / (1 + reg)``. Objects whose label or prediction is the background, and mixed
objects, keep weight 1. Before the matrix is fitted, an unobserved row counts as uniform
(``1 / K``), a zero diagonal as ``1 / K`` and any other zero as ``floor``.
"""
from typing import Tuple

import torch
from torch import Tensor

WEIGHT_VARIANTS = ('pair', 'diagonal')


def confusion_counts(labels: Tensor, preds: Tensor, num_classes: int) -> Tensor:
    """(K, K) counts of (label, prediction) pairs: row = the object's class (its pseudo
    label), column = the class the detector predicts for it. Labels or predictions outside
    ``[0, K)`` (the background) are left out."""
    keep = (labels >= 0) & (labels < num_classes) & (preds >= 0) & (preds < num_classes)
    flat = labels[keep].long() * num_classes + preds[keep].long()
    return torch.bincount(flat, minlength=num_classes * num_classes).reshape(
        num_classes, num_classes).float()


def confusion_rows(counts: Tensor) -> Tuple[Tensor, Tensor]:
    """``(rows, observed)``: the counts with each non-empty row normalised to sum 1, and the
    (K,) bool mask of the rows with at least one object."""
    total = counts.sum(1, keepdim=True)
    return counts / total.clamp_min(1.0), total[:, 0] > 0


def update_relation_(matrix: Tensor, rows: Tensor, observed: Tensor, alpha: float) -> Tensor:
    """EMA of the observed rows, in place: ``C[r] <- alpha * C[r] + (1 - alpha) * rows[r]``
    (``alpha``: weight of the old value). Returns ``matrix``."""
    if not 0.0 <= alpha < 1.0:
        raise ValueError(f'update_relation_: alpha (weight of the old value) must lie in '
                         f'[0, 1), got {alpha}')
    mixed = alpha * matrix + (1.0 - alpha) * rows.to(matrix)
    matrix.copy_(torch.where(observed.to(matrix.device)[:, None], mixed, matrix))
    return matrix


def usable_relation(matrix: Tensor, observed: Tensor, floor: float = 1e-3) -> Tensor:
    """The matrix as the weights read it: unobserved rows uniform ``1 / K``, zero diagonal
    entries ``1 / K``, other zeros ``floor``."""
    k = matrix.shape[0]
    c = torch.where(observed[:, None], matrix, matrix.new_full((), 1.0 / k))
    eye = torch.eye(k, dtype=torch.bool, device=c.device)
    c = torch.where(eye & (c == 0), c.new_full((), 1.0 / k), c)
    return torch.where(c == 0, c.new_full((), floor), c)


def semantic_aware_weights(matrix: Tensor, observed: Tensor, labels: Tensor, preds: Tensor,
                           reg: float = 1.0, variant: str = 'pair', floor: float = 1e-3,
                           mixed: Tensor = None) -> Tensor:
    """(N,) classification-loss weights of objects with ``labels`` and predictions ``preds``
    (see the module docstring).

    Args:
        matrix: (K, K) relational context; ``observed``: (K,) rows fitted at least once.
        labels, preds: (N,) classes; outside ``[0, K)`` means background (weight 1).
        reg: Pull towards 1, ``(w + reg) / (1 + reg)`` (0: the raw normalised weights).
        variant: ``'pair'`` (a wrong prediction weighs ``C[g, p]``) or ``'diagonal'``
            (``C[g, g]``).
        floor: Value of the zero entries.
        mixed: (N,) bool, objects made by mixing (weight 1).
    """
    if variant not in WEIGHT_VARIANTS:
        raise ValueError(f'semantic_aware_weights: variant must be one of {WEIGHT_VARIANTS}, '
                         f'got {variant!r}')
    if reg < 0:
        raise ValueError(f'semantic_aware_weights: reg must be >= 0, got {reg}')
    k = matrix.shape[0]
    c = usable_relation(matrix, observed, floor)
    fg = (labels >= 0) & (labels < k) & (preds >= 0) & (preds < k)
    if mixed is not None:
        fg = fg & ~mixed
    g, p = labels.clamp(0, k - 1).long(), preds.clamp(0, k - 1).long()
    right = g == p
    wrong_col = p if variant == 'pair' else g
    w = torch.where(right, 1.0 - c[g, g], c[g, wrong_col])
    w = w.clamp_min(1e-5)
    n = fg.sum()
    mean = torch.where(n > 0, (w * fg).sum() / n.clamp_min(1), w.new_ones(()))
    w = torch.where(mean > 0, w / mean, w)
    w = (w + reg) / (1.0 + reg)
    return torch.where(fg, w, torch.ones_like(w))
