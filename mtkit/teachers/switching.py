"""Schedule of switching temporary teachers (Dual Teacher, Na et al., NeurIPS 2023), pure.

``N`` teachers take turns: period ``p = iter // interval`` belongs to teacher ``p mod N``.
When a teacher becomes active it restarts from the student, and its EMA weight of the old
value ramps as ``alpha_i = min(1 - 1 / (i + 1), alpha_max)``, ``i`` counting the updates since
it became active (``alpha_0 = 0``: the first update copies the student). In mtkit's momentum
convention (weight of the new value) that is ``momentum_i = 1 - alpha_i``.
"""
from typing import Tuple


def switching_state(it: int, interval: int, num_teachers: int) -> Tuple[int, int, int]:
    """``(period, active teacher index, updates since it became active)`` at iteration ``it``
    (before that iteration's update)."""
    if interval < 1 or num_teachers < 1 or it < 0:
        raise ValueError(f'switching_state: need interval >= 1, num_teachers >= 1, it >= 0; got '
                         f'{interval}, {num_teachers}, {it}')
    period = it // interval
    return period, period % num_teachers, it - period * interval


def restart_momentum(step: int, alpha_max: float = 0.99) -> float:
    """Momentum (weight of the student) of the ``step``-th update since activation:
    ``1 - min(1 - 1 / (step + 1), alpha_max)``."""
    if not 0.0 <= alpha_max <= 1.0:
        raise ValueError(f'alpha_max must be in [0, 1], got {alpha_max}')
    if step < 0:
        raise ValueError(f'step must be >= 0, got {step}')
    return 1.0 - min(1.0 - 1.0 / (step + 1), alpha_max)
