"""MMEngine hook that keeps a model's ``teacher`` an EMA of its ``student``."""
from typing import Any, Dict, List, Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from torch import nn

from ..registry import HOOKS, register
from ..utils.errors import ConfigKeyError, check_choice
from ..teachers.ema import BUFFER_POLICIES, build_ema_plan, copy_student_to_teacher_, ema_update_
from ..teachers.momentum import build_momentum_schedule, with_burn_in

DATA_BATCH = Optional[Any]


def unwrap_teacher_student(runner_model: nn.Module, teacher: str, student: str,
                           hook_name: str) -> tuple:
    """Return ``(model, teacher_module, student_module)`` of a possibly DDP-wrapped model."""
    model = runner_model.module if is_model_wrapper(runner_model) else runner_model
    missing = [n for n in (teacher, student) if not isinstance(getattr(model, n, None), nn.Module)]
    if missing:
        raise AttributeError(
            f'{hook_name} needs a model with `{teacher}` and `{student}` submodules (e.g. '
            f'mtkit.MeanTeacherDetector or mmdet SemiBaseDetector); {type(model).__name__} has '
            f'no {missing}. Wrap the detector/segmentor in a teacher-student model, or remove '
            f'the hook from custom_hooks.')
    return model, getattr(model, teacher), getattr(model, student)


def check_every_teacher_is_updated(runner, model) -> None:
    """Each teacher a model lists in ``ema_teachers`` must be updated by exactly one hook
    (hooks name theirs in ``updated_teachers``); otherwise a :class:`ConfigKeyError`."""
    owners: Dict[str, List[str]] = {}
    for h in runner.hooks:
        for name in getattr(h, 'updated_teachers', ()):
            owners.setdefault(name, []).append(type(h).__name__)
    twice = {n: hooks for n, hooks in owners.items() if len(hooks) > 1}
    if twice:
        raise ConfigKeyError(f'teacher(s) updated by more than one hook: {twice}; keep one '
                             f'hook per teacher in custom_hooks')
    missing = [n for n in getattr(model, 'ema_teachers', ()) if n not in owners]
    if missing:
        raise ConfigKeyError(
            f'{type(model).__name__} has EMA teacher(s) {missing} that no hook updates (they '
            f'would stay at their initial weights). Add e.g. '
            f"dict(type='mtkit.EMATeacherHook', teacher_name='{missing[0]}', momentum=...) "
            f"to custom_hooks, i.e. EMATeacherHook(teacher_name='{missing[0]}'), or a "
            f'DualTeacherHook whose teacher_names include them.')


@register(HOOKS)
class EMATeacherHook(Hook):
    """EMA mean teacher: ``teacher <- (1 - m) * teacher + m * student`` after optimizer steps.

    A drop-in replacement for mmdet's ``MeanTeacherHook`` on any model with ``teacher`` and
    ``student`` submodules (mtkit's wrappers, mmdet's ``SemiBaseDetector`` / ``SoftTeacher``),
    with one fused multi-tensor update per dtype group instead of a per-parameter loop.

    Args:
        momentum: Weight of the student in each update (MMEngine's convention; mmdet's
            ``MeanTeacherHook(momentum=0.001)`` means the same). Used when ``schedule`` is None.
        schedule: Momentum schedule, ``dict(type='constant'|'warmup'|'consistent_teacher',
            ...)`` (see :mod:`mtkit.teachers.momentum`). Overrides ``momentum``.
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

    priority = 'NORMAL'

    def __init__(self,
                 momentum: float = 0.001,
                 schedule: Optional[Dict[str, Any]] = None,
                 interval: int = 1,
                 begin_iter: int = 0,
                 buffer_policy: str = 'copy',
                 init_teacher_from_student: bool = True,
                 teacher_name: str = 'teacher',
                 student_name: str = 'student') -> None:
        if interval < 1:
            raise ValueError(f'EMATeacherHook: interval must be >= 1, got {interval}')
        schedule = dict(schedule) if schedule is not None else dict(type='constant',
                                                                    momentum=momentum)
        self.schedule = with_burn_in(build_momentum_schedule(schedule), begin_iter)
        self.interval = interval
        self.begin_iter = begin_iter
        self.buffer_policy = buffer_policy
        self.init_teacher_from_student = init_teacher_from_student
        self.teacher_name = teacher_name
        self.student_name = student_name
        check_choice('EMATeacherHook.buffer_policy', buffer_policy, BUFFER_POLICIES)
        self._plan = None

    @property
    def updated_teachers(self) -> tuple:
        return (self.teacher_name, )

    def before_train(self, runner) -> None:
        model, teacher, student = unwrap_teacher_student(runner.model, self.teacher_name,
                                                         self.student_name, type(self).__name__)
        check_every_teacher_is_updated(runner, model)
        self._plan = build_ema_plan(teacher, student, self.buffer_policy)
        if runner.iter == 0 and self.init_teacher_from_student:
            copy_student_to_teacher_(self._plan)

    def after_train_iter(self, runner, batch_idx: int, data_batch: DATA_BATCH = None,
                         outputs: Optional[dict] = None) -> None:
        if (runner.iter + 1) % self.interval != 0:
            return
        momentum = self.schedule(runner.iter)
        ema_update_(self._plan, momentum)
        runner.message_hub.update_scalar('train/ema_momentum', momentum)
