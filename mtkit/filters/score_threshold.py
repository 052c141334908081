"""Fixed score thresholds, global or per class."""
from typing import Any, Sequence, Union

from torch import Tensor

from ..utils.errors import ConfigKeyError
from ..registry import PSEUDO_FILTERS, register
from .base import PseudoLabelFilter, as_threshold_tensor


def score_threshold_mask(scores: Tensor, labels: Tensor, thr: Tensor) -> Tensor:
    """Keep ``scores >= thr`` (``thr`` a scalar tensor or indexed by ``labels``).

    Args:
        scores: (N,) teacher confidences (or any shape, e.g. a (B, H, W) confidence map).
        labels: integer class indices, shaped like ``scores``.
        thr: () global threshold or (C,) per-class thresholds.

    Returns:
        Bool keep mask shaped like ``scores``.
    """
    if thr.device != scores.device or thr.dtype != scores.dtype:
        thr = thr.to(scores.device, scores.dtype)
    if thr.ndim == 0:
        return scores >= thr
    # A clear error for a mis-sized per-class list; checked on CPU only, where reading the
    # max costs no device sync (on CUDA an out-of-range label trips the indexing assert).
    if labels.device.type == 'cpu' and labels.numel() and int(labels.max()) >= thr.numel():
        raise ConfigKeyError(f'ScoreThreshold: {thr.numel()} per-class thresholds given, but a '
                             f'prediction has label {int(labels.max())}')
    return scores >= thr[labels]


@register(PSEUDO_FILTERS)
class ScoreThreshold(PseudoLabelFilter):
    """Keep pseudo instances whose score is at least ``thr`` (float or per-class list)."""

    elementwise = True

    def __init__(self, thr: Union[float, Sequence[float]] = 0.5) -> None:
        super().__init__()
        self.thr = thr
        # moves with the model (.to / .cuda); not persistent: the config is the source
        self.register_buffer('_thr', as_threshold_tensor(thr, 'ScoreThreshold.thr'),
                             persistent=False)

    def keep(self, instances: Any) -> Tensor:
        return score_threshold_mask(instances.scores, instances.labels, self._thr)

    def keep_dense(self, scores: Tensor, labels: Tensor, mask: Tensor, context=None) -> Tensor:
        return score_threshold_mask(scores, labels, self._thr)

    def thresholds(self) -> Tensor:
        return self._thr
