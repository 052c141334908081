"""Per-pixel pseudo-label cross-entropy for segmentation (pure torch)."""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from ..utils.errors import check_choice

WEIGHTINGS = ('mask', 'fraction', 'class_balanced')


def pseudo_label_ce(logits: Tensor, labels: Tensor, keep: Tensor, valid: Tensor,
                    weighting: str = 'mask', exact: Optional[Tensor] = None) -> Tensor:
    """Cross-entropy of student ``logits`` against dense pseudo labels.

    Args:
        logits: (B, C, H, W) student logits.
        labels: (B, H, W) pseudo labels (any value where ``valid`` is False).
        keep: (B, H, W) bool, confident pixels (the filter chain's mask).
        valid: (B, H, W) bool, pixels that exist (not padding / not ignore).
        weighting: ``'mask'``: the CE of kept pixels, summed and divided by the number of
            valid pixels, ``sum(ce * keep) / sum(valid)`` (FixMatch / UniMatch style).
            ``'fraction'``: every valid pixel's CE, each image weighted by its fraction of
            confident pixels ``q_b = sum(keep_b) / sum(valid_b)`` (DACS / Dual Teacher style):
            ``sum_b q_b sum(ce_b * valid_b) / sum(valid)``.
            ``'class_balanced'``: every pseudo class present among the kept pixels weighs the
            same: the mean over those classes of their kept pixels' mean CE, times the kept
            share ``sum(keep) / sum(valid)`` (so it equals ``'mask'`` when one class is
            kept). A majority class (the background of digit data) no longer dominates.

        exact: (B, H, W) bool, pixels whose labels are ground truth (source pixels mixed
            into a target image, domain adaptation): each counts as kept with weight 1, and
            ``'fraction'``'s ``q_b`` is taken over the other pixels,
            ``(sum_b q_b sum(ce_b * pseudo_b) + sum(ce * exact)) / sum(valid)`` with
            ``pseudo = valid & ~exact`` (DAFormer's mixed weight).

    An image without a confident pixel contributes zero with any weighting; with no valid pixel at
    all the loss is an exact 0 still connected to ``logits``.
    """
    check_choice('pseudo_label_ce weighting', weighting, WEIGHTINGS)
    if logits.dim() != 4 or labels.shape != logits.shape[:1] + logits.shape[2:]:
        raise ValueError(f'pseudo_label_ce: logits must be (B, C, H, W) and labels (B, H, W), '
                         f'got {tuple(logits.shape)} and {tuple(labels.shape)}')
    if exact is not None:
        exact = exact & valid
        keep = keep | exact
    keep = keep & valid
    target = torch.where(valid, labels, torch.zeros_like(labels)).long()
    ce = F.cross_entropy(logits, target, reduction='none')
    n_valid = valid.sum().clamp_min(1).to(ce.dtype)
    if weighting == 'mask':
        return (ce * keep).sum() / n_valid
    if weighting == 'class_balanced':
        flat, k = target.flatten(), keep.flatten().to(ce.dtype)
        count = ce.new_zeros(logits.shape[1]).scatter_add_(0, flat, k)
        ce_sum = ce.new_zeros(logits.shape[1]).scatter_add_(0, flat, ce.flatten() * k)
        present = (count > 0).to(ce.dtype)
        class_mean = (ce_sum / count.clamp_min(1) * present).sum() / present.sum().clamp_min(1)
        return class_mean * keep.sum() / n_valid
    pseudo = valid if exact is None else valid & ~exact
    per_img = pseudo.flatten(1).sum(1).clamp_min(1).to(ce.dtype)
    q = (keep & pseudo).flatten(1).sum(1).to(ce.dtype) / per_img
    loss = (q * (ce * pseudo).flatten(1).sum(1)).sum()
    if exact is not None:
        loss = loss + (ce * exact).sum()
    return loss / n_valid
