"""Consistent-Teacher's per-image pre-filter: keep about as many boxes as the scores sum to."""
import math
from typing import Any

import torch
from torch import Tensor

from ..utils.errors import ConfigKeyError
from ..registry import PSEUDO_FILTERS, register
from .base import PseudoLabelFilter


def score_sum_topk_mask(scores: Tensor, ratio: float = 1.0) -> Tensor:
    """Keep the ``k + 1`` highest scores of one image, ``k = min(round(ratio * sum), n - 1)``.

    Sort the scores in descending order, ``k = min(floor(ratio * sum(scores) + 0.5), n - 1)``
    and keep every score ``>= sorted[k]`` (ties with ``sorted[k]`` are kept too). This is the
    published rule, whose reference keeps ``score > sorted[k] - 1e-5``; the inclusive
    comparison is the same without the epsilon. An image without predictions keeps nothing.

    Args:
        scores: (N,) scores of one image.
        ratio: Multiplies the score sum (Consistent-Teacher's ``dynamic_ratio``, 1.0).

    Returns:
        (N,) bool keep mask.
    """
    n = scores.numel()
    if n == 0:
        return torch.zeros_like(scores, dtype=torch.bool)
    ordered = scores.sort(descending=True).values
    k = torch.floor(ordered.sum() * ratio + 0.5).clamp(0, n - 1).long()
    return scores >= ordered[k]


@register(PSEUDO_FILTERS)
class ScoreSumTopK(PseudoLabelFilter):
    """Per image, keep the boxes whose score reaches the ``round(sum of scores)``-th best.

    The teacher's score mass estimates how many objects an image holds; this keeps about that
    many boxes before a per-class threshold (Consistent-Teacher applies it before its GMM).

    Args:
        ratio: Multiplies the score sum (1.0 as published).
    """

    def __init__(self, ratio: float = 1.0) -> None:
        super().__init__()
        if not (isinstance(ratio, (int, float)) and ratio > 0 and math.isfinite(ratio)):
            raise ConfigKeyError(f'ScoreSumTopK.ratio: expected a number > 0, got {ratio!r}')
        self.ratio = float(ratio)

    def keep(self, instances: Any) -> Tensor:
        return score_sum_topk_mask(instances.scores, self.ratio)
