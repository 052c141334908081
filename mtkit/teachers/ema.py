"""Pure-torch EMA of a teacher from a student, with fused multi-tensor updates.

Momentum convention (MMEngine's, used everywhere in mtkit): ``momentum`` is the weight of the
*new* value, i.e. ``teacher <- (1 - momentum) * teacher + momentum * student``. A momentum of 1
copies the student; the "decay" of other codebases is ``1 - momentum``.

The update runs one ``torch._foreach_lerp_`` per (device, dtype) group of floating tensors,
so its cost does not grow with a Python loop over parameters, and it never reads a value back
to the host.
"""
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Sequence, Tuple

import torch
from torch import Tensor, nn

from ..utils.errors import check_choice

BUFFER_POLICIES = ('copy', 'average', 'keep')

_GroupKey = Tuple[torch.device, torch.dtype]


def _group(pairs: Iterable[Tuple[Tensor, Tensor]]) -> Dict[_GroupKey, Tuple[List[Tensor],
                                                                           List[Tensor]]]:
    groups: Dict[_GroupKey, Tuple[List[Tensor], List[Tensor]]] = defaultdict(lambda: ([], []))
    for dst, src in pairs:
        dsts, srcs = groups[(dst.device, dst.dtype)]
        dsts.append(dst)
        srcs.append(src)
    return dict(groups)


def _check_pairs(dst_named: Sequence[Tuple[str, Tensor]], src_named: Sequence[Tuple[str, Tensor]],
                 what: str) -> None:
    dst_names = [n for n, _ in dst_named]
    src_names = [n for n, _ in src_named]
    if dst_names != src_names:
        missing = sorted(set(src_names) - set(dst_names))[:5]
        extra = sorted(set(dst_names) - set(src_names))[:5]
        raise ValueError(
            f'EMA: teacher and student {what} differ (teacher lacks {missing}, '
            f'has extra {extra}); the teacher must be built from the same config as the student')
    for (name, d), (_, s) in zip(dst_named, src_named):
        if d.shape != s.shape or d.dtype != s.dtype or d.device != s.device:
            raise ValueError(
                f'EMA: {what[:-1]} {name!r} differs between teacher '
                f'({tuple(d.shape)}, {d.dtype}, {d.device}) and student '
                f'({tuple(s.shape)}, {s.dtype}, {s.device})')


@dataclass
class EMAPlan:
    """Tensors of a teacher/student pair, grouped once for fused updates.

    Build it with :func:`build_ema_plan`; it keeps references to the live tensors, so it stays
    valid while the modules' tensors are updated in place (optimizer steps, ``load_state_dict``).
    Rebuild it after moving the modules to another device or dtype.
    """

    params: Dict[_GroupKey, Tuple[List[Tensor], List[Tensor]]] = field(default_factory=dict)
    float_buffers: Dict[_GroupKey, Tuple[List[Tensor], List[Tensor]]] = field(
        default_factory=dict)
    other_buffers: Dict[_GroupKey, Tuple[List[Tensor], List[Tensor]]] = field(
        default_factory=dict)
    buffer_policy: str = 'copy'


def build_ema_plan(teacher: nn.Module, student: nn.Module, buffer_policy: str = 'copy') -> EMAPlan:
    """Pair and group the tensors of ``teacher`` and ``student``.

    Args:
        teacher: Module updated by EMA.
        student: Module trained by gradient descent, same architecture.
        buffer_policy: What happens to buffers (BatchNorm running statistics, counters):
            ``'copy'`` (default) copies the student's buffers, so BN statistics follow the
            student; ``'average'`` averages floating buffers with the same momentum and copies
            the others; ``'keep'`` never touches the teacher's buffers.

    Returns:
        The plan to pass to :func:`ema_update_`.
    """
    check_choice('buffer_policy', buffer_policy, BUFFER_POLICIES)
    t_params = [(n, p.data) for n, p in teacher.named_parameters()]
    s_params = [(n, p.data) for n, p in student.named_parameters()]
    _check_pairs(t_params, s_params, 'parameters')
    plan = EMAPlan(buffer_policy=buffer_policy)
    plan.params = _group((d, s) for (_, d), (_, s) in zip(t_params, s_params))
    if buffer_policy != 'keep':
        t_bufs = list(teacher.named_buffers())
        s_bufs = list(student.named_buffers())
        _check_pairs(t_bufs, s_bufs, 'buffers')
        floats = [(d, s) for (_, d), (_, s) in zip(t_bufs, s_bufs) if d.is_floating_point()]
        others = [(d, s) for (_, d), (_, s) in zip(t_bufs, s_bufs) if not d.is_floating_point()]
        if buffer_policy == 'copy':
            plan.other_buffers = _group(floats + others)
        else:
            plan.float_buffers = _group(floats)
            plan.other_buffers = _group(others)
    return plan


@torch.no_grad()
def ema_update_(plan: EMAPlan, momentum: float) -> None:
    """One EMA step: ``teacher <- teacher + momentum * (student - teacher)``, in place.

    Args:
        plan: Tensors grouped by :func:`build_ema_plan`.
        momentum: Weight of the student (new value), in [0, 1].
    """
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f'EMA momentum must be in [0, 1] (weight of the new value), '
                         f'got {momentum}')
    for dsts, srcs in plan.params.values():
        if momentum == 1.0:
            torch._foreach_copy_(dsts, srcs)
        else:
            torch._foreach_lerp_(dsts, srcs, momentum)
    for dsts, srcs in plan.float_buffers.values():
        torch._foreach_lerp_(dsts, srcs, momentum)
    for dsts, srcs in plan.other_buffers.values():
        torch._foreach_copy_(dsts, srcs)


@torch.no_grad()
def copy_student_to_teacher_(plan: EMAPlan) -> None:
    """Make the teacher an exact copy of the student (parameters, and buffers unless ``keep``)."""
    for group in (plan.params, plan.float_buffers, plan.other_buffers):
        for dsts, srcs in group.values():
            torch._foreach_copy_(dsts, srcs)


@torch.no_grad()
def swap_teacher_and_student_(plan: EMAPlan) -> None:
    """Exchange the teacher's and the student's weights (parameters, and buffers unless
    ``keep``) in place: a true swap through a cloned copy, so that neither ends up sharing
    storage with the other and the modules' own tensors (which optimizers hold) stay theirs."""
    for group in (plan.params, plan.float_buffers, plan.other_buffers):
        for dsts, srcs in group.values():
            held = [t.clone() for t in dsts]
            torch._foreach_copy_(dsts, srcs)
            torch._foreach_copy_(srcs, held)
