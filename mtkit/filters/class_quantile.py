"""Per-class thresholds that follow each class's own confidence (class-balanced pseudo labels).

A fixed threshold such as 0.95 keeps the confident majority class (background: ~90% of the
pixels of digit data, scored near 1) and drops the rarer, less confident classes. Here every
class's threshold is the running ``quantile`` of the teacher's confidences on the pixels (or
boxes) it assigns to that class, clamped to ``[floor, ceiling]``: each class keeps about the
same top share of its predictions (FlexMatch / class-balanced self-training in spirit).
"""
from typing import Any, List, Tuple

import torch
from torch import Tensor

from ..utils.errors import ConfigKeyError
from ..registry import PSEUDO_FILTERS, register
from ..utils.device import take
from .base import Context, PseudoLabelFilter
from .score_threshold import score_threshold_mask


def class_quantiles(scores: Tensor, labels: Tensor, weights: Tensor, num_classes: int,
                    q: float) -> Tuple[Tensor, Tensor]:
    """The ``q``-quantile of ``scores`` within each class, all classes at once.

    Args:
        scores: confidences in [0, 1], any shape.
        labels: class indices in [0, num_classes), shaped like ``scores``.
        weights: bool, shaped like ``scores``: the entries that count.
        num_classes: C.
        q: quantile in [0, 1] (lower: the nearest-rank entry at ``floor(q * (n - 1))``).

    Returns:
        ((C,) quantiles, 0 for a class without an entry; (C,) entry counts).

    One sort of ``label + score`` (in float64, scores clamped below 1, so classes do not mix),
    then a gather at each class's offset: no loop over classes and no host sync.
    """
    s = scores.reshape(-1).double().clamp(0.0, 1.0 - 1e-9)
    lab = labels.reshape(-1).long()
    w = weights.reshape(-1)
    # entries that do not count go behind every class
    key = torch.where(w, lab.to(s.dtype) + s, torch.full_like(s, float(num_classes)))
    ordered = key.sort().values
    counts = torch.zeros(num_classes, dtype=torch.long, device=s.device)
    counts.scatter_add_(0, torch.where(w, lab, torch.zeros_like(lab)), w.long())
    starts = counts.cumsum(0) - counts
    idx = starts + (q * (counts - 1).clamp_min(0).to(s.dtype)).floor().long()
    if ordered.numel() == 0:
        return torch.zeros(num_classes, device=s.device, dtype=scores.dtype), counts
    values = ordered.gather(0, idx.clamp(max=ordered.numel() - 1))
    values = values - torch.arange(num_classes, device=s.device, dtype=s.dtype)
    values = torch.where(counts > 0, values, torch.zeros_like(values))
    return values.to(scores.dtype), counts


@register(PSEUDO_FILTERS)
class ClassQuantileThreshold(PseudoLabelFilter):
    """Per-class thresholds at a running quantile of each class's teacher confidences.

    Each training call computes, per class, the ``quantile`` of the confidences of the entries
    the previous filters kept (:func:`class_quantiles`), moves the class's threshold towards it
    by ``momentum`` (mtkit's convention: the weight of the new value; a class absent from the
    batch keeps its threshold), and keeps the entries scoring at least
    ``clamp(threshold, floor, ceiling)`` of their class. The thresholds are a buffer: saved in
    checkpoints, restored on resume. In eval mode they are applied without being updated.
    Per rank under DDP, like :class:`GMMThreshold`'s queues.

    Args:
        num_classes: Number of classes C.
        quantile: Share of each class's predictions that falls below its threshold (0.5: each
            class keeps its more confident half).
        momentum: Weight of the batch quantile in the running threshold, in (0, 1].
        init: Initial threshold of every class.
        floor, ceiling: Clamp of every threshold (``floor`` stops a weak class from keeping
            near-chance labels; ``ceiling`` lets the confident majority class keep its share).

    Works on dense maps (segmentation) and on instances (detection: the batch's boxes).
    """

    def __init__(self, num_classes: int, quantile: float = 0.5, momentum: float = 0.1,
                 init: float = 0.95, floor: float = 0.5, ceiling: float = 0.95) -> None:
        super().__init__()
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ConfigKeyError(f'ClassQuantileThreshold.num_classes: expected an int >= 1, got '
                                 f'{num_classes!r}')
        for name, v in (('quantile', quantile), ('init', init), ('floor', floor),
                        ('ceiling', ceiling)):
            if not 0.0 <= float(v) <= 1.0:
                raise ConfigKeyError(f'ClassQuantileThreshold.{name}: expected a value in [0, 1], '
                                     f'got {v!r}')
        if not 0.0 < float(momentum) <= 1.0:
            raise ConfigKeyError(f'ClassQuantileThreshold.momentum: expected a value in (0, 1], '
                                 f'got {momentum!r}')
        if floor > ceiling:
            raise ConfigKeyError(f'ClassQuantileThreshold: floor {floor} is above ceiling '
                                 f'{ceiling}')
        self.num_classes, self.quantile, self.momentum = num_classes, float(quantile), \
            float(momentum)
        self.floor, self.ceiling = float(floor), float(ceiling)
        self.register_buffer('thr', torch.full((num_classes, ), float(init)))

    def _update_and_threshold(self, scores: Tensor, labels: Tensor, mask: Tensor) -> Tensor:
        if self.training:
            values, counts = class_quantiles(scores, labels, mask, self.num_classes,
                                             self.quantile)
            new = torch.lerp(self.thr, values.to(self.thr), self.momentum)
            self.thr.copy_(torch.where(counts > 0, new, self.thr))
        return self.thresholds()

    def keep_dense(self, scores: Tensor, labels: Tensor, mask: Tensor,
                   context: Context = None) -> Tensor:
        thr = self._update_and_threshold(scores, labels, mask)
        return score_threshold_mask(scores, labels, thr)

    def filter_batch(self, batch: List[Any], context: Context = None) -> List[Any]:
        if not batch:
            return batch
        scores = torch.cat([inst.scores for inst in batch])
        labels = torch.cat([inst.labels for inst in batch])
        thr = self._update_and_threshold(scores, labels, torch.ones_like(scores,
                                                                         dtype=torch.bool))
        return [take(inst, score_threshold_mask(inst.scores, inst.labels, thr)) for inst in batch]

    def thresholds(self) -> Tensor:
        return self.thr.clamp(self.floor, self.ceiling)
