"""Online test-time adaptation over a stream of domains (pure loop, no MMEngine Runner).

Settings:
* ``continual``: the model is reset only before the first domain;
* ``reset``: the model is reset before every domain;
* ``gradual``: one continual pass over the domains in the order given (the caller builds the
  1..5..1 severity sequence, see :func:`gradual_domains`).

Each batch is predicted *before* the method updates on it (the methods guarantee it), scored
per domain (a domain met again is keyed ``name@2``, ``name@3``...), and non-finite predictions
stop the run with the domain and batch. Classification (logits (N, C), labels (N,)) is scored by
the error (%); segmentation (logits (N, C, h, w), label maps (N, H, W)) by the mIoU (%) of
mmseg's ``IoUMetric`` (its per-class intersection and union, accumulated over the domain; the
logits are resized to the label size first, bilinearly, as mmseg predicts).
"""
import logging
import time
from typing import Callable, Dict, Iterable, List, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.logging import print_log

from ..evaluation import mean_iou
from ..utils.errors import check_choice
from ..generate.corruptions import CORRUPTIONS

SETTINGS = ('continual', 'reset', 'gradual')


def gradual_domains(corruptions: Sequence[str] = CORRUPTIONS) -> List[str]:
    """``type-1, type-2, ..., type-5, ..., type-1`` for each corruption type in turn (severity
    steps up to 5 and back down, then the next type starts at 1)."""
    out = []
    for name in corruptions:
        out += [f'{name}-{s}' for s in (1, 2, 3, 4, 5, 4, 3, 2, 1)]
    return out


class ErrorMeter:
    """Top-1 error (%) of (N, C) logits against (N,) labels."""

    name = 'error'
    #: keys of the per-domain scores and of their mean in run_stream's result
    keys = ('errors', 'mean_error')

    def __init__(self) -> None:
        self.wrong = torch.zeros((), dtype=torch.long)
        self.seen = 0

    def update(self, logits: torch.Tensor, labels: torch.Tensor) -> None:
        self.wrong += (logits.argmax(1).cpu() != labels.cpu()).sum()
        self.seen += labels.shape[0]

    def value(self) -> float:
        return 100.0 * int(self.wrong) / max(self.seen, 1)


class IoUMeter:
    """mIoU (%) of (N, C, h, w) logits against (N, H, W) label maps, with mmseg's
    ``IoUMetric.intersect_and_union`` summed over the domain; classes never seen in either the
    labels or the predictions are left out of the mean (as mmseg's nan-mean does)."""

    name = 'mIoU'
    keys = ('miou', 'mean_miou')

    def __init__(self, num_classes: int, ignore_index: int = 255,
                 align_corners: bool = False) -> None:
        self.num_classes, self.ignore_index = num_classes, ignore_index
        self.align_corners = align_corners
        self.intersect = torch.zeros(num_classes, dtype=torch.float64)
        self.union = torch.zeros(num_classes, dtype=torch.float64)

    def update(self, logits: torch.Tensor, labels: torch.Tensor) -> None:
        from mmseg.evaluation import IoUMetric
        labels = labels.to(logits.device)
        if tuple(logits.shape[-2:]) != tuple(labels.shape[-2:]):
            logits = F.interpolate(logits, size=labels.shape[-2:], mode='bilinear',
                                   align_corners=self.align_corners)
        inter, union, _, _ = IoUMetric.intersect_and_union(
            logits.argmax(1), labels, self.num_classes, self.ignore_index)
        self.intersect += inter.double()
        self.union += union.double()

    def value(self) -> float:
        return mean_iou(self.intersect, self.union)


def run_stream(method, domains: Sequence[Tuple[str, Iterable]], setting: str = 'continual',
               log_every: int = 0, logger: str = 'current',
               on_batch: Callable = None, meter: Callable = ErrorMeter) -> Dict[str, object]:
    """Adapt ``method`` online over ``domains`` = [(name, batches)], where each batch is
    ``(inputs, labels)`` already preprocessed. Returns the per-domain scores and their mean
    (``errors`` / ``mean_error`` with the default :class:`ErrorMeter`; ``miou`` / ``mean_miou``
    with an :class:`IoUMeter` factory as ``meter``), images counted and images/s.

    An empty batch is skipped with a warning (a data loader with ``drop_last=False`` never
    yields one; a custom stream might); a batch of one image is adapted like any other, which
    for methods that use test-batch BN statistics means per-image normalisation.
    """
    check_choice('run_stream setting', setting, SETTINGS)
    scores: Dict[str, float] = {}
    images, seconds = 0, 0.0
    method.reset()
    for d_i, (name, batches) in enumerate(domains):
        if setting == 'reset' and d_i > 0:
            method.reset()
        score = meter()
        seen = 0
        for b_i, (x, y) in enumerate(batches):
            if x.shape[0] == 0:
                print_log(f'tta: domain {name}, batch {b_i} is empty; skipped', logger=logger,
                          level=logging.WARNING)
                continue
            start = time.perf_counter()
            logits = method(x)
            if not bool(torch.isfinite(logits).all()):
                raise FloatingPointError(
                    f'tta: adaptation diverged: non-finite predictions at domain {name!r} '
                    f'(#{d_i}), batch {b_i} (images {seen}-{seen + x.shape[0] - 1})')
            seconds += time.perf_counter() - start
            score.update(logits, y)
            seen += x.shape[0]
            if on_batch is not None:
                on_batch(name, b_i, logits, y)
            if log_every and (b_i + 1) % log_every == 0:
                print_log(f'tta: {name} batch {b_i + 1}: running {score.name} '
                          f'{score.value():.2f}%', logger=logger)
        if seen == 0:
            raise ValueError(f'tta: domain {name!r} has no images')
        key, k = name, 2
        while key in scores:  # a domain met again (gradual: fog-4 going up, then down)
            key, k = f'{name}@{k}', k + 1
        scores[key] = score.value()
        images += seen
        print_log(f'tta: domain {d_i + 1}/{len(domains)} {name}: {score.name} '
                  f'{scores[key]:.2f}%', logger=logger)
    per_domain, mean_key = score.keys
    result = {per_domain: scores, mean_key: sum(scores.values()) / len(scores),
              'images': images, 'images_per_s': images / max(seconds, 1e-9), 'setting': setting}
    sev5 = [v for k, v in scores.items() if k.split('@')[0].endswith('-5')]
    if setting == 'gradual' and sev5:
        result[f'{mean_key}_severity5'] = sum(sev5) / len(sev5)
    return result
