"""Per-location gradient weights for dense detection heads (pure torch).

A dense (single-stage) head predicts, for every feature-map location of every level, class
scores, a box and sometimes an objectness. Unsupervised detection losses need to say "do not
train this location as background": the teacher saw something there, but not confidently
enough to make it a pseudo box (Unbiased / Soft / Efficient Teacher all treat these
detections specially). Rather than patching each head's target assignment, these helpers
scale the *gradient* that reaches the head's outputs at such locations:

* :func:`region_weights` gives one ``(B, 1, H, W)`` weight map per level: the weight of the
  uncertain box whose area contains the location's centre (the smallest, if several do), 1
  elsewhere and 1 inside any pseudo box (those locations are the positives' candidates);
* :func:`scale_grad` returns a tensor with the same value whose gradient is multiplied by the
  map (0 = ignore region, in (0, 1) = soft-weighted).

The head then computes its own loss, assignment and normalisation unchanged, so the same code
serves YOLOX, RetinaNet, FCOS and RTMDet.
"""
from typing import List, Optional, Sequence, Tuple

import torch
from torch import Tensor


def pad_boxes(boxes: Sequence[Tensor], values: Optional[Sequence[Tensor]], fill: float,
              device: torch.device) -> Tuple[Tensor, Optional[Tensor]]:
    """Stack per-image ``(K_i, 4)`` boxes and ``(K_i,)`` values into ``(B, K, 4)`` and
    ``(B, K)``, padding with empty boxes (``x1 > x2``, contain nothing) and ``fill``;
    ``values=None`` stacks the boxes only (and returns None for the values)."""
    k = max([b.shape[0] for b in boxes] + [0])
    out_b = torch.full((len(boxes), k, 4), 0.0, device=device)
    out_b[..., 0] = 1.0  # empty: x1 = 1 > x2 = 0
    out_v = None if values is None else torch.full((len(boxes), k), fill, device=device)
    for i, b in enumerate(boxes):
        n = b.shape[0]
        if n:
            out_b[i, :n] = b.to(device=device, dtype=torch.float32)
            if out_v is not None:
                out_v[i, :n] = values[i].to(device=device, dtype=torch.float32)
    return out_b, out_v


def _inside(centers: Tensor, boxes: Tensor) -> Tensor:
    """(B, P, K) whether each of the P centres lies inside each of the K boxes of its image."""
    cx = centers[None, :, None, 0]
    cy = centers[None, :, None, 1]
    b = boxes[:, None, :, :]
    return (cx >= b[..., 0]) & (cx < b[..., 2]) & (cy >= b[..., 1]) & (cy < b[..., 3])


def level_centers(size: Tuple[int, int], stride: Tuple[float, float], offset: float,
                  device: torch.device) -> Tensor:
    """(H * W, 2) image coordinates ``((x + offset) * sw, (y + offset) * sh)`` of a level's
    locations in row-major order."""
    h, w = int(size[0]), int(size[1])
    ys = (torch.arange(h, device=device, dtype=torch.float32) + offset) * float(stride[1])
    xs = (torch.arange(w, device=device, dtype=torch.float32) + offset) * float(stride[0])
    yy, xx = torch.meshgrid(ys, xs, indexing='ij')
    return torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1)


def region_weights(region_boxes: Sequence[Tensor], region_weights_: Sequence[Tensor],
                   keep_boxes: Sequence[Tensor], featmap_sizes: Sequence[Tuple[int, int]],
                   strides: Sequence, offset: float = 0.5,
                   device: Optional[torch.device] = None) -> List[Tensor]:
    """Per-level ``(B, 1, H, W)`` gradient weights from weighted regions.

    Args:
        region_boxes: per image ``(K_i, 4)`` xyxy boxes of the regions (uncertain detections).
        region_weights_: per image ``(K_i,)`` weight of each region, in [0, 1].
        keep_boxes: per image ``(M_i, 4)`` boxes whose locations keep weight 1 (pseudo boxes).
        featmap_sizes: ``(H, W)`` of each level.
        strides: each level's stride, an int or ``(sw, sh)``.
        offset: location centre offset in strides (0.5 = cell centre).
    """
    if len(region_boxes) != len(region_weights_) or len(region_boxes) != len(keep_boxes):
        raise ValueError(f'region_weights: got {len(region_boxes)} images of boxes, '
                         f'{len(region_weights_)} of weights and {len(keep_boxes)} of kept boxes')
    if len(featmap_sizes) != len(strides):
        raise ValueError(f'region_weights: {len(featmap_sizes)} feature maps but '
                         f'{len(strides)} strides')
    if device is None:
        device = region_boxes[0].device if len(region_boxes) else torch.device('cpu')
    num = len(region_boxes)
    boxes, weights = pad_boxes(region_boxes, region_weights_, 1.0, device)
    kept, _ = pad_boxes(keep_boxes, None, 0.0, device)
    maps = []
    for size, stride in zip(featmap_sizes, strides):
        stride = (stride, stride) if isinstance(stride, (int, float)) else tuple(stride)
        centers = level_centers(size, stride, offset, device)
        if boxes.shape[1] == 0:
            w = torch.ones(num, centers.shape[0], device=device)
        else:
            inside = _inside(centers, boxes)
            w = torch.where(inside, weights[:, None, :], torch.ones((), device=device))
            w = w.amin(dim=2)
            if kept.shape[1]:
                w = torch.where(_inside(centers, kept).any(dim=2),
                                torch.ones((), device=device), w)
        maps.append(w.view(num, 1, int(size[0]), int(size[1])))
    return maps


def scale_grad(x: Tensor, weight: Tensor) -> Tensor:
    """``x`` unchanged in value, with its gradient multiplied by ``weight`` (broadcast)."""
    weight = weight.to(x.dtype)
    return x * weight + x.detach() * (1 - weight)
