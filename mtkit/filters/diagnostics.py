"""Pseudo-label quality against held-out ground truth (pure torch) and a step accumulator."""
from typing import Dict, Optional

import torch
from torch import Tensor

from ..utils.device import device_scalar
from .consensus import box_iou


def pseudo_label_matches(pred_boxes: Tensor, pred_labels: Tensor, gt_boxes: Tensor,
                         gt_labels: Tensor, iou_thr: float = 0.5) -> Tensor:
    """Counts for precision and recall of one image's pseudo boxes at ``iou_thr``.

    A pseudo box is correct when a ground-truth box of the same class overlaps it with IoU >=
    ``iou_thr``; a ground-truth box is found when such a pseudo box exists. (Coverage, not a
    one-to-one matching: two pseudo boxes on one object both count as correct. With the
    teachers' NMS-ed outputs duplicates are rare; the definition needs no sequential loop.)

    Returns:
        (4,) float tensor ``[n_pseudo, n_pseudo_correct, n_gt, n_gt_found]``.
    """
    n_p, n_g = pred_boxes.shape[0], gt_boxes.shape[0]
    device = pred_boxes.device
    if n_p == 0 or n_g == 0:
        return torch.stack([device_scalar(n_p, device), device_scalar(0, device),
                            device_scalar(n_g, device), device_scalar(0, device)])
    iou = box_iou(pred_boxes.float(), gt_boxes.float().to(device))
    hit = (iou >= iou_thr) & (pred_labels[:, None] == gt_labels.to(device)[None, :])
    return torch.stack([device_scalar(n_p, device), hit.any(1).sum().float(),
                        device_scalar(n_g, device), hit.any(0).sum().float()])


STAT_KEYS = ('images', 'raw', 'pseudo', 'pseudo_correct', 'gt', 'gt_found', 'gt_images')


class PseudoLabelStats:
    """Running sums of pseudo-label counts, kept on the device (no host sync per step).

    ``images``: unlabeled images seen; ``raw``: teacher boxes before filtering; ``pseudo``:
    boxes kept; ``pseudo_correct``/``gt``/``gt_found``: as in :func:`pseudo_label_matches`,
    over the images whose ground truth reached the model (``gt_images``).
    """

    def __init__(self) -> None:
        self._sums: Optional[Tensor] = None

    def add(self, values: Dict[str, Tensor]) -> None:
        device = self._device(values)
        vec = torch.stack([values[k].to(device, torch.float32) if isinstance(values.get(k), Tensor)
                           else device_scalar(values.get(k, 0.0), device) for k in STAT_KEYS])
        self._sums = vec if self._sums is None else self._sums + vec

    @staticmethod
    def _device(values: Dict[str, Tensor]):
        for v in values.values():
            if isinstance(v, Tensor):
                return v.device
        return torch.device('cpu')

    def pop(self) -> Dict[str, float]:
        """The sums since the last pop (one host read), then reset."""
        if self._sums is None:
            return {}
        out = dict(zip(STAT_KEYS, self._sums.tolist()))
        self._sums = None
        return out
