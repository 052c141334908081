"""Fixed score thresholds, global or per class."""
from typing import Any, Sequence, Union

from torch import Tensor

from ..registry import PSEUDO_FILTERS, register
from .base import PseudoLabelFilter, as_threshold_tensor


def score_threshold_mask(scores: Tensor, labels: Tensor, thr: Tensor) -> Tensor:
    """Keep ``scores >= thr`` (``thr`` a scalar tensor or indexed by ``labels``).

    Args:
        scores: (N,) teacher confidences.
        labels: (N,) integer class indices.
        thr: () global threshold or (C,) per-class thresholds.

    Returns:
        (N,) bool keep mask.
    """
    thr = thr.to(scores.device, scores.dtype)
    if thr.ndim == 0:
        return scores >= thr
    # A clear error for a mis-sized per-class list; checked on CPU only, where reading the
    # max costs no device sync (on CUDA an out-of-range label trips the indexing assert).
    if labels.device.type == 'cpu' and labels.numel() and int(labels.max()) >= thr.numel():
        raise ValueError(f'ScoreThreshold: {thr.numel()} per-class thresholds given, but a '
                         f'prediction has label {int(labels.max())}')
    return scores >= thr[labels]


@register(PSEUDO_FILTERS)
class ScoreThreshold(PseudoLabelFilter):
    """Keep pseudo instances whose score is at least ``thr`` (float or per-class list)."""

    def __init__(self, thr: Union[float, Sequence[float]] = 0.5) -> None:
        self.thr = thr
        self._thr = as_threshold_tensor(thr, 'ScoreThreshold.thr')
        # (device, dtype) -> threshold: copied to the device once, not for every image
        self._on_device = {}

    def keep(self, instances: Any) -> Tensor:
        scores = instances.scores
        key = (scores.device, scores.dtype)
        if key not in self._on_device:
            self._on_device[key] = self._thr.to(scores.device, scores.dtype)
        return score_threshold_mask(scores, instances.labels, self._on_device[key])
