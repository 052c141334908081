"""MMEngine hook of Stable Mean Teacher (Kumar et al., AAAI 2025): the teacher is an EMA of the
student and the EoR teacher an EMA of the EoR module, with one schedule."""
from typing import Any, Dict, Optional

from ..registry import HOOKS, register
from ..teachers.momentum import build_momentum_schedule
from .teacher_student import TeacherStudentHook


@register(HOOKS)
class StableTeacherHook(TeacherStudentHook):
    """EMA updates of ``pairs`` (teacher name -> student name) after every training iteration.

    By default the hook updates the pairs the model declares (``teacher`` follows ``student``
    and, with ``use_eor``, ``eor_teacher`` follows ``eor``), all with the published
    ``alpha = min(1 - 1 / (step + 1), 0.99)`` (the weight of the old value; in mtkit's
    convention ``schedule=dict(type='mean_teacher', momentum_min=0.01)``). Any schedule of
    :mod:`mtkit.teachers.momentum` can replace it. On a fresh start every teacher starts as a
    copy of its student.

    The update count is saved in the checkpoint (``mtkit_stable_teacher``) with the schedule
    and pairs, and a resume continues from it; a checkpoint made with other pairs is an error
    (the resume rule of :class:`~mtkit.hooks.teacher_student.TeacherStudentHook`).

    Args:
        schedule: Momentum schedule config (MMEngine's momentum convention: weight of the new
            value).
        pairs: ``{teacher attribute: student attribute}``; None (default): the model's
            (``teacher``/``student`` and ``eor_teacher``/``eor`` on a model without the
            teacher-student contract). Pairs the model does not declare are a
            ``ConfigKeyError``.
        buffer_policy: As :class:`~mtkit.hooks.EMATeacherHook`.
    """

    state_key = 'mtkit_stable_teacher'
    FOREIGN_PAIRS = dict(teacher='student', eor_teacher='eor')

    def __init__(self,
                 schedule: Optional[Dict[str, Any]] = None,
                 pairs: Optional[Dict[str, str]] = None,
                 buffer_policy: str = 'copy') -> None:
        super().__init__(pairs, buffer_policy)
        self.schedule_cfg = dict(schedule or dict(type='mean_teacher', momentum_min=0.01))
        self.schedule = build_momentum_schedule(self.schedule_cfg)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        self.update(runner, self.pairs, self.schedule(self.step))
        self.step += 1

    def state_dict(self) -> dict:
        return dict(super().state_dict(), schedule=dict(self.schedule_cfg))
