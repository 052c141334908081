"""Weight ramps for unsupervised losses (pure functions of the iteration)."""
import math

from ..utils.errors import ConfigKeyError, check_choice

RAMPS = ('linear', 'sigmoid', 'step')


def ramp_weight(it: int, burn_in: int = 0, ramp_iters: int = 0, kind: str = 'linear') -> float:
    """Factor in [0, 1] for an unsupervised loss at iteration ``it``.

    0 while ``it < burn_in``; then over ``ramp_iters`` iterations it rises to 1, linearly
    (``'linear'``), as ``exp(-5 (1 - t)^2)`` (``'sigmoid'``, the mean-teacher ramp-up), or at
    once (``'step'`` or ``ramp_iters == 0``).
    """
    check_choice('ramp kind', kind, RAMPS)
    if burn_in < 0 or ramp_iters < 0:
        raise ConfigKeyError(f'burn_in and ramp_iters must be >= 0, got {burn_in}, {ramp_iters}')
    if it < burn_in:
        return 0.0
    if ramp_iters == 0 or kind == 'step':
        return 1.0
    t = min(1.0, (it - burn_in) / ramp_iters)
    return t if kind == 'linear' else math.exp(-5.0 * (1.0 - t) ** 2)
