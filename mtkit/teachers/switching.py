"""Schedule of switching temporary teachers (Dual Teacher, Na et al., NeurIPS 2023), pure.

``N`` teachers take turns: period ``p = iter // interval`` belongs to teacher ``p mod N``.
When a teacher becomes active it restarts from the student, and its EMA weight of the old
value ramps as ``alpha_i = min(1 - 1 / (i + 1), alpha_max)``, ``i`` counting the updates since
it became active (``alpha_0 = 0``: the first update copies the student): the ``mean_teacher``
schedule of :mod:`mtkit.teachers.momentum`, restarted with each turn.
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

