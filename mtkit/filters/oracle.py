"""Oracle pseudo labels: held-out ground truth, optionally degraded (pure torch).

A diagnostic, never a method: training the student on the unlabeled images' true boxes
bounds what any pseudo-labelling can reach with the same loss, and degrading them (missing
objects, false positives, box noise) shows how much each kind of teacher error costs.
"""
from typing import Optional, Tuple

import torch
from torch import Tensor

from ..utils.errors import ConfigKeyError

ORACLE_DEFAULTS = dict(recall=1.0, false_positives=0.0, jitter=0.0)


def check_oracle(cfg: dict) -> dict:
    """Validated oracle settings (``recall`` in [0, 1], ``false_positives`` >= 0 per image,
    ``jitter`` >= 0 as a fraction of the box size)."""
    from ..utils.errors import check_cfg
    cfg = check_cfg('semi_train_cfg.oracle', cfg, ORACLE_DEFAULTS)
    if not 0.0 <= float(cfg['recall']) <= 1.0:
        raise ConfigKeyError(f'semi_train_cfg.oracle.recall must lie in [0, 1], got '
                             f'{cfg["recall"]!r}')
    if float(cfg['false_positives']) < 0:
        raise ConfigKeyError(f'semi_train_cfg.oracle.false_positives must be >= 0 (boxes per '
                             f'image), got {cfg["false_positives"]!r}')
    if float(cfg['jitter']) < 0:
        raise ConfigKeyError(f'semi_train_cfg.oracle.jitter must be >= 0 (fraction of the box '
                             f'size), got {cfg["jitter"]!r}')
    return cfg


def degrade_boxes(bboxes: Tensor, labels: Tensor, img_shape: Tuple[int, int], num_classes: int,
                  recall: float = 1.0, false_positives: float = 0.0, jitter: float = 0.0,
                  generator: Optional[torch.Generator] = None) -> Tuple[Tensor, Tensor]:
    """Ground-truth boxes of one image turned into imperfect pseudo labels.

    * each box is kept with probability ``recall``;
    * each kept box's corners move by Gaussian noise of std ``jitter`` times its width
      (x) and height (y), clipped to the image;
    * ``false_positives`` random boxes are added (the integer part always, the fraction with
      that probability), with a uniform random class, a side of 10-35% of the image's shorter
      side and a uniform position.

    Returns ``(bboxes, labels)``; with the defaults the input comes back unchanged.
    """
    device = bboxes.device
    bboxes = bboxes.float()
    h, w = float(img_shape[0]), float(img_shape[1])

    def rand(*shape):
        return torch.rand(*shape, generator=generator).to(device)

    if recall < 1.0 and bboxes.shape[0]:
        keep = rand(bboxes.shape[0]) < recall
        bboxes, labels = bboxes[keep], labels[keep]
    if jitter > 0 and bboxes.shape[0]:
        size = (bboxes[:, 2:] - bboxes[:, :2]).repeat(1, 2)
        noise = torch.randn(bboxes.shape, generator=generator).to(device)
        bboxes = bboxes + noise * jitter * size
        bboxes[:, 0::2] = bboxes[:, 0::2].clamp(0, w)
        bboxes[:, 1::2] = bboxes[:, 1::2].clamp(0, h)
        x1 = torch.minimum(bboxes[:, 0], bboxes[:, 2])
        x2 = torch.maximum(bboxes[:, 0], bboxes[:, 2])
        y1 = torch.minimum(bboxes[:, 1], bboxes[:, 3])
        y2 = torch.maximum(bboxes[:, 1], bboxes[:, 3])
        bboxes = torch.stack([x1, y1, x2, y2], dim=1)
    n_fp = int(false_positives)
    frac = false_positives - n_fp
    if frac > 0 and float(torch.rand(1, generator=generator)) < frac:  # CPU draw: no sync
        n_fp += 1
    if n_fp:
        side = (0.10 + 0.25 * rand(n_fp)) * min(h, w)
        x1 = rand(n_fp) * (w - side)
        y1 = rand(n_fp) * (h - side)
        fp = torch.stack([x1, y1, x1 + side, y1 + side], dim=1)
        fp_labels = torch.randint(num_classes, (n_fp, ), generator=generator).to(device)
        bboxes = torch.cat([bboxes, fp])
        labels = torch.cat([labels, fp_labels.to(labels.dtype)])
    return bboxes, labels
