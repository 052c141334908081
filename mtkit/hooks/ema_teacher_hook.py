"""MMEngine hook that keeps a model's ``teacher`` an EMA of its ``student``."""
from typing import Any, Dict, Optional

from ..registry import HOOKS, register
from ..teachers.momentum import build_momentum_schedule, with_burn_in
from .teacher_student import TeacherStudentHook

DATA_BATCH = Optional[Any]


@register(HOOKS)
class EMATeacherHook(TeacherStudentHook):
    """EMA mean teacher: ``teacher <- (1 - m) * teacher + m * student`` after optimizer steps.

    A drop-in replacement for mmdet's ``MeanTeacherHook`` on any model with ``teacher`` and
    ``student`` submodules (mtkit's wrappers, mmdet's ``SemiBaseDetector`` / ``SoftTeacher``),
    with one fused multi-tensor update per dtype group instead of a per-parameter loop. Setup,
    checks and resume are those of :class:`~mtkit.hooks.teacher_student.TeacherStudentHook`;
    the state (iterations counted, ``mtkit_ema_teacher`` in the checkpoint) equals
    ``runner.iter``, so a checkpoint without it resumes the same way.

    Args:
        momentum: Weight of the student in each update (MMEngine's convention; mmdet's
            ``MeanTeacherHook(momentum=0.001)`` means the same). Used when ``schedule`` is None.
        schedule: Momentum schedule, ``dict(type='constant'|'warmup'|'consistent_teacher'|
            'mean_teacher', ...)`` (see :mod:`mtkit.teachers.momentum`). Overrides ``momentum``.
        interval: Update every ``interval`` training iterations.
        begin_iter: Burn-in: until this iteration the teacher is a copy of the student; the
            schedule's step is counted from here.
        buffer_policy: ``'copy'`` (default; BN running statistics follow the student),
            ``'average'`` or ``'keep'`` (mmdet's ``skip_buffer=True`` behaviour: the teacher's
            buffers stay at their initial values, which breaks detectors with trainable BN).
        init_teacher_from_student: On a fresh start (``runner.iter == 0``) copy the student
            into the teacher before training. Never done on resume.
        teacher_name, student_name: Attribute names of the two submodules.
    """

    state_key = 'mtkit_ema_teacher'

    def __init__(self,
                 momentum: float = 0.001,
                 schedule: Optional[Dict[str, Any]] = None,
                 interval: int = 1,
                 begin_iter: int = 0,
                 buffer_policy: str = 'copy',
                 init_teacher_from_student: bool = True,
                 teacher_name: str = 'teacher',
                 student_name: str = 'student') -> None:
        super().__init__({teacher_name: student_name}, buffer_policy,
                         init_teachers=init_teacher_from_student)
        if interval < 1:
            raise ValueError(f'EMATeacherHook: interval must be >= 1, got {interval}')
        schedule = dict(schedule) if schedule is not None else dict(type='constant',
                                                                    momentum=momentum)
        self.schedule = with_burn_in(build_momentum_schedule(schedule), begin_iter)
        self.interval = interval
        self.begin_iter = begin_iter

    def after_train_iter(self, runner, batch_idx: int, data_batch: DATA_BATCH = None,
                         outputs: Optional[dict] = None) -> None:
        self.step += 1  # iterations done (== runner.iter + 1)
        if self.step % self.interval == 0:
            self.update(runner, self.pairs, self.schedule(self.step - 1))
