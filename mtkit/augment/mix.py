"""Batch mixing for dense pseudo labels: CutMix and ClassMix masks (pure torch, batched).

A mix pastes, for every image ``b`` of a batch, a region of a *source* image ``perm[b]`` into
``b``. The region is a (B, H, W) boolean mask; :func:`apply_mix` applies one mask to every
dense tensor of the batch (strong images, pseudo labels, confidences, keep and valid masks),
so that they stay consistent pixel for pixel.

* CutMix (Yun et al. 2019; French et al. 2020 for segmentation): one random box per image with
  area fraction in ``area`` and aspect ratio in ``ratio``.
* ClassMix (Olsson et al. 2021): the pixels of half the classes present in the source image's
  pseudo label map (``ceil(n / 2)`` of its ``n`` classes, chosen at random; ``share`` sets
  another fraction); in domain adaptation (DACS, DAFormer) the source is a labeled image of the
  source domain and its ground truth picks the classes.

Randomness comes from ``generator`` (the global torch RNG when None); there is no Python loop
over images or classes and nothing is read back to the host.
"""
import math
from typing import Optional, Sequence, Tuple

import torch
from torch import Tensor

from ..utils.errors import ConfigKeyError, check_choice

#: ``'source_classmix'``: ClassMix whose source images are another batch's (domain adaptation:
#: labeled source images pasted into target ones, the mask from the source's ground truth).
MIX_MODES = (None, 'cutmix', 'classmix', 'source_classmix')


def _rand(shape, device, generator: Optional[torch.Generator]) -> Tensor:
    if generator is None:
        return torch.rand(shape, device=device)
    return torch.rand(shape, generator=generator, device=generator.device).to(device)


def cutmix_masks(batch: int, height: int, width: int, device=None,
                 area: Tuple[float, float] = (0.02, 0.4),
                 ratio: Tuple[float, float] = (0.3, 1 / 0.3),
                 generator: Optional[torch.Generator] = None) -> Tensor:
    """(B, H, W) bool masks, one random box each.

    Area fraction ``a ~ U(area)``, aspect ratio ``r ~ exp(U(log ratio))`` (width / height);
    box height ``sqrt(a H W / r)``, width ``sqrt(a H W r)``, both clipped to the image, and a
    top-left corner uniform over the positions where the box fits.
    """
    lo, hi = area
    if not 0 < lo <= hi <= 1:
        raise ConfigKeyError(f'cutmix area must satisfy 0 < low <= high <= 1, got {area}')
    if not 0 < ratio[0] <= ratio[1]:
        raise ConfigKeyError(f'cutmix ratio must satisfy 0 < low <= high, got {ratio}')
    u = _rand((4, batch), device, generator)
    a = lo + (hi - lo) * u[0]
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    r = torch.exp(log_lo + (log_hi - log_lo) * u[1])
    box_h = torch.sqrt(a * height * width / r).round().clamp(1, height)
    box_w = torch.sqrt(a * height * width * r).round().clamp(1, width)
    top = torch.floor(u[2] * (height - box_h + 1)).clamp_max(height - box_h)
    left = torch.floor(u[3] * (width - box_w + 1)).clamp_max(width - box_w)
    ys = torch.arange(height, device=a.device, dtype=a.dtype)[None, :, None]
    xs = torch.arange(width, device=a.device, dtype=a.dtype)[None, None, :]
    return ((ys >= top[:, None, None]) & (ys < (top + box_h)[:, None, None])
            & (xs >= left[:, None, None]) & (xs < (left + box_w)[:, None, None]))


def check_share(share: float, key: str = 'classmix share') -> None:
    if not 0.0 <= float(share) <= 1.0:
        raise ConfigKeyError(f'{key} is the fraction of a source image\'s classes pasted, in '
                             f'[0, 1]; got {share!r}')


def classmix_masks(labels: Tensor, num_classes: int, ignore_index: int = 255,
                   generator: Optional[torch.Generator] = None, share: float = 0.5) -> Tensor:
    """(B, H, W) bool masks: the pixels of ``ceil(share * n)`` random classes of each label
    map (``share=0.5``: ClassMix's half, ``ceil(n / 2)``).

    Args:
        labels: (B, H, W) integer class maps (of the source images); ``ignore_index`` pixels
            are never selected and do not count as a class.
        num_classes: Number of classes C (labels lie in [0, C) or equal ``ignore_index``).
        share: The fraction of each map's ``n`` present classes picked, in [0, 1].
    """
    check_share(share)
    b = labels.shape[0]
    valid = labels != ignore_index
    safe = torch.where(valid, labels, torch.zeros_like(labels)).long()
    present = torch.zeros(b, num_classes, dtype=torch.bool, device=labels.device)
    present.scatter_(1, safe.view(b, -1), valid.view(b, -1))
    # a random rank among the present classes; absent classes sort last
    keys = _rand((b, num_classes), labels.device, generator)
    keys = torch.where(present, keys, torch.full_like(keys, 2.0))
    rank = keys.argsort(1).argsort(1)
    # ceil(share * n) in integers when share is a multiple of 1/1000 (no float rounding at
    # exact multiples: ceil(0.5 * 4) is 2, not 3)
    milli = round(float(share) * 1000)
    n_pick = (present.sum(1) * milli + 999) // 1000
    picked = present & (rank < n_pick[:, None])
    return torch.gather(picked, 1, safe.view(b, -1)).view_as(labels) & valid


def mix_masks(mode: Optional[str], labels: Tensor, num_classes: int,
              ignore_index: int = 255, generator: Optional[torch.Generator] = None,
              cutmix_area: Sequence[float] = (0.02, 0.4),
              classmix_share: float = 0.5) -> Optional[Tensor]:
    """Masks of ``mode`` ('cutmix', 'classmix' or 'source_classmix') for source ``labels``
    (B, H, W); None for no mixing. The two ClassMix modes draw the same masks (``ceil(
    classmix_share * n)`` of the ``n`` classes); they differ in where the pasted images come
    from (:class:`~mtkit.MeanTeacherSegmentor`)."""
    if mode is None:
        return None
    if mode == 'cutmix':
        b, h, w = labels.shape
        return cutmix_masks(b, h, w, labels.device, tuple(cutmix_area), generator=generator)
    if mode in ('classmix', 'source_classmix'):
        return classmix_masks(labels, num_classes, ignore_index, generator, classmix_share)
    check_choice('mix mode', mode, MIX_MODES)
    raise AssertionError(f'mix mode {mode!r} has no masks')  # MIX_MODES lists one too many


def apply_mix(mask: Tensor, perm: Tensor, *tensors: Tensor) -> Tuple[Tensor, ...]:
    """Paste ``t[perm]`` into ``t`` where ``mask`` (B, H, W) holds, for each tensor.

    Tensors are (B, H, W) or (B, K, H, W); the same mask applies to every channel.
    """
    out = []
    for t in tensors:
        m = mask if t.dim() == 3 else mask[:, None]
        out.append(torch.where(m, t[perm], t))
    return tuple(out)
