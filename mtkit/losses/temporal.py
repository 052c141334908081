"""Temporal consistency of dense clip predictions (Stable Mean Teacher, Kumar et al., AAAI
2025), pure torch.

Predictions are per-frame maps of a clip, with time along ``time_dim`` (e.g. probabilities of
shape (B, T, C, H, W), ``time_dim=1``).
"""
from typing import Optional

import torch.nn.functional as F
from torch import Tensor


def temporal_difference(x: Tensor, time_dim: int = 1) -> Tensor:
    """``D(x)[t] = x[t + 1] - x[t]``: one frame fewer along ``time_dim``."""
    if x.shape[time_dim] < 2:
        raise ValueError(f'temporal_difference: need at least 2 frames along dim {time_dim}, '
                         f'got shape {tuple(x.shape)}')
    n = x.shape[time_dim]
    return x.narrow(time_dim, 1, n - 1) - x.narrow(time_dim, 0, n - 1)


def dop_term(student: Tensor, target: Tensor, time_dim: int = 1,
             temporal: bool = True) -> Tensor:
    """``MSE(S, T) + MSE(D S, D T)``: agreement of the maps and of their frame-to-frame changes
    (each MSE a mean over all elements); ``MSE(S, T)`` alone when not ``temporal`` (the plain
    mean-teacher consistency). ``target`` is treated as a constant."""
    if student.shape != target.shape:
        raise ValueError(f'dop_term: student {tuple(student.shape)} and target '
                         f'{tuple(target.shape)} differ in shape')
    target = target.detach()
    loss = F.mse_loss(student, target)
    if temporal:
        loss = loss + F.mse_loss(temporal_difference(student, time_dim),
                                 temporal_difference(target, time_dim))
    return loss


def dop_loss(student: Tensor, teacher: Tensor, refined: Optional[Tensor] = None,
             weight: float = 1.0, time_dim: int = 1, temporal: bool = True) -> Tensor:
    """Difference-of-Pixels consistency:
    ``w [MSE(S, T) + MSE(D S, D T)] + w [MSE(S, T~) + MSE(D S, D T~)]``, with ``T~`` the
    refined teacher (the second bracket is left out when ``refined`` is None).

    Args:
        student: Student probabilities of a batch of clips.
        teacher: Teacher probabilities, same shape (no gradient flows into it).
        refined: Refined teacher probabilities (the EoR module's), or None.
        weight: ``w``, e.g. ``0.1 * ramp`` with the ramp ``exp(-5 (1 - e / R)^2)``
            (:func:`mtkit.losses.ramp_weight` with ``kind='sigmoid'``).
        time_dim: The time axis.
        temporal: False drops the difference terms (an ablation without DoP).
    """
    loss = dop_term(student, teacher, time_dim, temporal)
    if refined is not None:
        loss = loss + dop_term(student, refined, time_dim, temporal)
    return weight * loss


def dice_loss(probs: Tensor, target: Tensor, class_dim: int = 1, valid: Optional[Tensor] = None,
              smooth: float = 1.0) -> Tensor:
    """Soft multi-class Dice loss, ``1 - mean_c (2 sum p t + s) / (sum p + sum t + s)``, sums
    over every element of class ``c`` (all images / frames together).

    Args:
        probs: Probabilities, classes along ``class_dim``.
        target: One-hot (or soft) targets, same shape.
        valid: Optional 0/1 mask broadcastable to ``probs`` (class dim of size 1); masked-out
            (ignored) pixels count for neither sum.
        smooth: ``s``, keeps empty classes at loss 0.
    """
    if probs.shape != target.shape:
        raise ValueError(f'dice_loss: probs {tuple(probs.shape)} and target '
                         f'{tuple(target.shape)} differ in shape')
    if valid is not None:
        probs, target = probs * valid, target * valid
    dims = [d for d in range(probs.dim()) if d != class_dim % probs.dim()]
    inter = (probs * target).sum(dims)
    total = probs.sum(dims) + target.sum(dims)
    return 1.0 - ((2 * inter + smooth) / (total + smooth)).mean()
