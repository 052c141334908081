"""CoTTA's stochastic restore of weights to their source values (pure torch, fused)."""
from typing import Optional, Sequence

import torch
from torch import Tensor


@torch.no_grad()
def stochastic_restore_(params: Sequence[Tensor], sources: Sequence[Tensor], p: float,
                        generator: Optional[torch.Generator] = None) -> None:
    """Reset each element of ``params`` to its ``sources`` value with probability ``p``.

    ``x <- x * (1 - m) + s * m`` with ``m ~ Bernoulli(p)`` element-wise, done with two fused
    multi-tensor ops per call; exact (``x * 0 + s * 1 == s``) for finite ``x``.

    Args:
        params: Tensors updated in place (e.g. the adapted model's parameters).
        sources: Same-shape tensors of the source model.
        p: Restore probability (CoTTA: 0.01).
        generator: Random generator on the tensors' device (the global one when None).
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f'stochastic_restore_: p must be in [0, 1], got {p}')
    params, sources = list(params), list(sources)
    if len(params) != len(sources) or any(a.shape != b.shape for a, b in zip(params, sources)):
        raise ValueError('stochastic_restore_: params and sources must pair up with equal shapes')
    if not params or p == 0.0:
        return
    masks = [(torch.rand(t.shape, generator=generator, device=t.device) < p).to(t.dtype)
             for t in params]
    keep = [1.0 - m for m in masks]
    torch._foreach_mul_(params, keep)
    torch._foreach_addcmul_(params, sources, masks)
