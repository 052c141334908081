"""Non-maximum suppression of pseudo boxes, class-wise or class-agnostic."""
from typing import Any

import torch
from torch import Tensor

from ..utils.errors import ConfigKeyError
from ..registry import PSEUDO_FILTERS, register
from .base import PseudoLabelFilter


def nms_mask(bboxes: Tensor, scores: Tensor, labels: Tensor, iou_thr: float,
             class_agnostic: bool = False) -> Tensor:
    """(N,) bool mask of the boxes NMS keeps (mmcv's ``batched_nms``)."""
    keep = torch.zeros_like(scores, dtype=torch.bool)
    if scores.numel() == 0:
        return keep
    from mmcv.ops import batched_nms
    _, idx = batched_nms(bboxes, scores, labels, dict(type='nms', iou_threshold=iou_thr),
                         class_agnostic=class_agnostic)
    keep[idx] = True
    return keep


@register(PSEUDO_FILTERS)
class NMSFilter(PseudoLabelFilter):
    """Suppress overlapping pseudo boxes before thresholding.

    Args:
        iou_thr: IoU above which the lower-scored box is dropped.
        class_agnostic: Suppress across classes (one box per object whatever its class).
    """

    def __init__(self, iou_thr: float = 0.5, class_agnostic: bool = False) -> None:
        super().__init__()
        if not 0.0 < iou_thr <= 1.0:
            raise ConfigKeyError(f'NMSFilter.iou_thr: expected a value in (0, 1], got {iou_thr!r}')
        self.iou_thr = float(iou_thr)
        self.class_agnostic = bool(class_agnostic)

    def keep(self, instances: Any) -> Tensor:
        return nms_mask(instances.bboxes, instances.scores, instances.labels, self.iou_thr,
                        self.class_agnostic)
