"""Momentum schedules for EMA teachers (pure functions of the step).

All return the momentum in MMEngine's convention (weight of the new value, see
:mod:`mtkit.teachers.ema`). ``step`` counts EMA updates from 0 (``runner.iter`` of the
iteration that just finished).
"""
from typing import Any, Callable, Dict

from ..utils.errors import ConfigKeyError, check_choice, check_kwargs

MomentumSchedule = Callable[[int], float]


def _check_unit(name: str, value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise ConfigKeyError(f'momentum schedule: {name} must be in [0, 1], got {value}')
    return float(value)


def constant(momentum: float) -> MomentumSchedule:
    """``m`` at every step."""
    m = _check_unit('momentum', momentum)
    return lambda step: m


def warmup(momentum: float, gamma: float) -> MomentumSchedule:
    """``max(m, gamma / (gamma + step))``: a copy of the student at step 0, decaying to ``m``."""
    m = _check_unit('momentum', momentum)
    if gamma <= 0:
        raise ConfigKeyError(f'momentum schedule warmup: gamma must be > 0, got {gamma}')
    return lambda step: max(m, gamma / (gamma + step))


def consistent_teacher(decay: float, warmup_steps: float) -> MomentumSchedule:
    """Consistent-Teacher's form ``decay_t = min(decay, 1 - (1 + w) / (step + 1 + w))``.

    That paper's ``decay`` is the weight of the old value; the momentum returned is
    ``1 - decay_t = max(1 - decay, (1 + w) / (step + 1 + w))``.
    """
    d = _check_unit('decay', decay)
    if warmup_steps < 0:
        raise ConfigKeyError(f'momentum schedule consistent_teacher: warmup_steps must be >= 0, '
                             f'got {warmup_steps}')
    w = float(warmup_steps)
    return lambda step: 1.0 - min(d, 1.0 - (1.0 + w) / (step + 1.0 + w))


def mean_teacher(momentum_min: float = 0.01) -> MomentumSchedule:
    """The original mean-teacher ramp (Tarvainen & Valpola, 2017), ``max(1 / (step + 1),
    momentum_min)``: 1 at step 0 (the first update copies), then a running mean of the
    student until the floor. The papers write it with the weight of the old value,
    ``alpha = min(1 - 1 / (step + 1), alpha_max)``; ``momentum_min = 1 - alpha_max`` (Stable
    Mean Teacher and Dual Teacher: ``alpha_max = 0.99``, i.e. ``momentum_min = 0.01``)."""
    m = _check_unit('momentum_min', momentum_min)
    return lambda step: max(1.0 / (step + 1.0), m)


def with_burn_in(schedule: MomentumSchedule, begin_iter: int) -> MomentumSchedule:
    """Burn-in: the teacher copies the student (momentum 1) for ``step < begin_iter``; from
    then on ``schedule`` runs with its step counted from ``begin_iter``."""
    if begin_iter < 0:
        raise ConfigKeyError(f'burn-in begin_iter must be >= 0, got {begin_iter}')
    if begin_iter == 0:
        return schedule
    return lambda step: 1.0 if step < begin_iter else schedule(step - begin_iter)


SCHEDULES: Dict[str, Callable[..., MomentumSchedule]] = dict(
    constant=constant, warmup=warmup, consistent_teacher=consistent_teacher,
    mean_teacher=mean_teacher)


def build_momentum_schedule(cfg: Dict[str, Any]) -> MomentumSchedule:
    """Build a schedule from ``dict(type=NAME, **kwargs)``; the error names wrong keys."""
    cfg = dict(cfg)
    kind = cfg.pop('type', None)
    check_choice('momentum schedule type', kind, sorted(SCHEDULES))
    fn = SCHEDULES[kind]
    check_kwargs(f'momentum schedule {kind!r}', fn, cfg)
    return fn(**cfg)
