"""Per-pixel pseudo-label cross-entropy for segmentation (pure torch)."""
import torch
import torch.nn.functional as F
from torch import Tensor

WEIGHTINGS = ('mask', 'fraction')


def pseudo_label_ce(logits: Tensor, labels: Tensor, keep: Tensor, valid: Tensor,
                    weighting: str = 'mask') -> Tensor:
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

    An image without a confident pixel contributes zero either way; with no valid pixel at
    all the loss is an exact 0 still connected to ``logits``.
    """
    if weighting not in WEIGHTINGS:
        raise ValueError(f'weighting must be one of {WEIGHTINGS}, got {weighting!r}')
    if logits.dim() != 4 or labels.shape != logits.shape[:1] + logits.shape[2:]:
        raise ValueError(f'pseudo_label_ce: logits must be (B, C, H, W) and labels (B, H, W), '
                         f'got {tuple(logits.shape)} and {tuple(labels.shape)}')
    keep = keep & valid
    target = torch.where(valid, labels, torch.zeros_like(labels)).long()
    ce = F.cross_entropy(logits, target, reduction='none')
    n_valid = valid.sum().clamp_min(1).to(ce.dtype)
    if weighting == 'mask':
        return (ce * keep).sum() / n_valid
    per_img_valid = valid.flatten(1).sum(1).clamp_min(1).to(ce.dtype)
    q = keep.flatten(1).sum(1).to(ce.dtype) / per_img_valid
    return (q * (ce * valid).flatten(1).sum(1)).sum() / n_valid
