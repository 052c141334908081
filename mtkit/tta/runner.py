"""Online test-time adaptation over a stream of domains (pure loop, no MMEngine Runner).

Settings:
* ``continual``: the model is reset only before the first domain;
* ``reset``: the model is reset before every domain;
* ``gradual``: one continual pass over the domains in the order given (the caller builds the
  1..5..1 severity sequence, see :func:`gradual_domains`).

Each batch is predicted *before* the method updates on it (the methods guarantee it), errors
are counted per domain (a domain met again is keyed ``name@2``, ``name@3``...), and non-finite
predictions stop the run with the domain and batch.
"""
import logging
import time
from typing import Callable, Dict, Iterable, List, Sequence, Tuple

import torch
from mmengine.logging import print_log

from .corruptions import CORRUPTIONS

SETTINGS = ('continual', 'reset', 'gradual')


def gradual_domains(corruptions: Sequence[str] = CORRUPTIONS) -> List[str]:
    """``type-1, type-2, ..., type-5, ..., type-1`` for each corruption type in turn (severity
    steps up to 5 and back down, then the next type starts at 1)."""
    out = []
    for name in corruptions:
        out += [f'{name}-{s}' for s in (1, 2, 3, 4, 5, 4, 3, 2, 1)]
    return out


def run_stream(method, domains: Sequence[Tuple[str, Iterable]], setting: str = 'continual',
               log_every: int = 0, logger: str = 'current',
               on_batch: Callable = None) -> Dict[str, object]:
    """Adapt ``method`` online over ``domains`` = [(name, batches)], where each batch is
    ``(inputs, labels)`` already preprocessed. Returns per-domain errors (%), their mean,
    images counted and images/s.

    An empty batch is skipped with a warning (a data loader with ``drop_last=False`` never
    yields one; a custom stream might); a batch of one image is adapted like any other, which
    for methods that use test-batch BN statistics means per-image normalisation.
    """
    if setting not in SETTINGS:
        raise ValueError(f'setting must be one of {SETTINGS}, got {setting!r}')
    errors: Dict[str, float] = {}
    images, seconds = 0, 0.0
    method.reset()
    for d_i, (name, batches) in enumerate(domains):
        if setting == 'reset' and d_i > 0:
            method.reset()
        wrong = torch.zeros((), dtype=torch.long)
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
            wrong += (logits.argmax(1).cpu() != y.cpu()).sum()
            seen += x.shape[0]
            if on_batch is not None:
                on_batch(name, b_i, logits, y)
            if log_every and (b_i + 1) % log_every == 0:
                print_log(f'tta: {name} batch {b_i + 1}: running error '
                          f'{100.0 * int(wrong) / seen:.2f}%', logger=logger)
        if seen == 0:
            raise ValueError(f'tta: domain {name!r} has no images')
        key, k = name, 2
        while key in errors:  # a domain met again (gradual: fog-4 going up, then down)
            key, k = f'{name}@{k}', k + 1
        errors[key] = 100.0 * int(wrong) / seen
        images += seen
        print_log(f'tta: domain {d_i + 1}/{len(domains)} {name}: error {errors[key]:.2f}%',
                  logger=logger)
    mean = sum(errors.values()) / len(errors)
    result = dict(errors=errors, mean_error=mean, images=images,
                  images_per_s=images / max(seconds, 1e-9), setting=setting)
    sev5 = [v for k, v in errors.items() if k.split('@')[0].endswith('-5')]
    if setting == 'gradual' and sev5:
        result['mean_error_severity5'] = sum(sev5) / len(sev5)
    return result
