"""MMEngine hook that keeps a model's ``teacher`` an EMA of its ``student``."""
from typing import Any, Dict, Optional

from ..registry import HOOKS, register
from ..teachers.momentum import build_momentum_schedule, with_burn_in
from ..utils.errors import ConfigKeyError
from .teacher_student import TeacherStudentHook, check_interval, contract_of

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
            schedule's step is counted from here. None (default): the model's
            ``semi_train_cfg.burn_in_iters`` (0 for a model without the teacher-student
            contract); a value that differs from the model's is a ``ConfigKeyError``.
        buffer_policy: ``'copy'`` (default; BN running statistics follow the student),
            ``'average'`` or ``'keep'`` (mmdet's ``skip_buffer=True`` behaviour: the teacher's
            buffers stay at their initial values, which breaks detectors with trainable BN).
        init_teacher_from_student: On a fresh start (``runner.iter == 0``) copy the student
            into the teacher before training. Never done on resume.
        teacher_name, student_name: Attribute names of the two submodules. None (default):
            the model's first pair (``teacher`` of ``student``; ``teacher``/``student`` for a
            model without the contract). A second teacher (``teacher2`` of a consensus model)
            needs its own hook with ``teacher_name='teacher2'`` (its state is saved under
            ``mtkit_ema_teacher.teacher2``); a name the model does not declare is a
            ``ConfigKeyError``.
    """

    state_key = 'mtkit_ema_teacher'

    def __init__(self,
                 momentum: float = 0.001,
                 schedule: Optional[Dict[str, Any]] = None,
                 interval: int = 1,
                 begin_iter: Optional[int] = None,
                 buffer_policy: str = 'copy',
                 init_teacher_from_student: bool = True,
                 teacher_name: Optional[str] = None,
                 student_name: Optional[str] = None) -> None:
        super().__init__(None, buffer_policy, init_teachers=init_teacher_from_student)
        check_interval('EMATeacherHook', interval)
        self.schedule_cfg = (dict(schedule) if schedule is not None
                             else dict(type='constant', momentum=momentum))
        # validated at build time; the burn-in is the model's (set again in setup)
        self.schedule = with_burn_in(build_momentum_schedule(self.schedule_cfg), begin_iter or 0)
        self.interval = interval
        self.given_begin_iter = begin_iter
        self.begin_iter = begin_iter
        self.teacher_name, self.student_name = teacher_name, student_name
        # one checkpoint entry per hook: a second hook (teacher_name='teacher2') keeps its own
        if teacher_name not in (None, 'teacher'):
            self.state_key = f'{EMATeacherHook.state_key}.{teacher_name}'

    def pairs_for(self, model) -> Dict[str, str]:
        contract = contract_of(model)
        if contract is None:
            return {self.teacher_name or 'teacher': self.student_name or 'student'}
        teacher = self.teacher_name or contract.ema_teachers[0]
        if teacher not in contract.teacher_pairs:
            raise ConfigKeyError(f'EMATeacherHook.teacher_name={teacher!r}, but '
                                 f'{contract.owner} declares the teachers {contract.ema_teachers}')
        pair = {teacher: self.student_name or contract.teacher_pairs[teacher]}
        self.check_declared(contract, pair, 'student_name')
        return pair

    def setup(self, runner) -> None:
        contract = contract_of(self.model)
        model_begin = contract.burn_in_iters if contract is not None else None
        if self.given_begin_iter is not None and model_begin is not None \
                and int(self.given_begin_iter) != model_begin:
            raise ConfigKeyError(
                f'EMATeacherHook.begin_iter={self.given_begin_iter} differs from the model\'s '
                f'semi_train_cfg.burn_in_iters={model_begin}; leave begin_iter unset (it follows '
                f'the model)')
        self.begin_iter = int(self.given_begin_iter if self.given_begin_iter is not None
                              else model_begin or 0)
        self.schedule = with_burn_in(build_momentum_schedule(self.schedule_cfg), self.begin_iter)

    def after_train_iter(self, runner, batch_idx: int, data_batch: DATA_BATCH = None,
                         outputs: Optional[dict] = None) -> None:
        self.step += 1  # iterations done (== runner.iter + 1)
        if self.step % self.interval == 0:
            self.update(runner, self.pairs, self.schedule(self.step - 1))
