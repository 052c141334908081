"""Minimum pseudo-box width and height."""
from typing import Any, Sequence, Union

from torch import Tensor

from ..utils.errors import ConfigKeyError
from ..registry import PSEUDO_FILTERS, register
from .base import PseudoLabelFilter


def min_box_size_mask(bboxes: Tensor, min_wh: Sequence[float]) -> Tensor:
    """Keep boxes (N, 4, xyxy) with width >= ``min_wh[0]`` and height >= ``min_wh[1]``."""
    w = bboxes[:, 2] - bboxes[:, 0]
    h = bboxes[:, 3] - bboxes[:, 1]
    return (w >= min_wh[0]) & (h >= min_wh[1])


@register(PSEUDO_FILTERS)
class MinBoxSize(PseudoLabelFilter):
    """Keep pseudo boxes at least ``min_size`` pixels wide and high (in the student's view).

    Args:
        min_size: One number for both sides, or ``(min_w, min_h)``.
    """

    elementwise = True

    def __init__(self, min_size: Union[float, Sequence[float]] = 2.0) -> None:
        super().__init__()
        wh = (min_size, min_size) if isinstance(min_size, (int, float)) else tuple(min_size)
        if len(wh) != 2 or any(v < 0 for v in wh):
            raise ConfigKeyError(f'MinBoxSize.min_size: expected a number >= 0 or (w, h), '
                                 f'got {min_size!r}')
        self.min_size = min_size
        self._wh = tuple(float(v) for v in wh)

    def keep(self, instances: Any) -> Tensor:
        return min_box_size_mask(instances.bboxes, self._wh)
