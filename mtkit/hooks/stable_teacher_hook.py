"""MMEngine hook of Stable Mean Teacher (Kumar et al., AAAI 2025): the teacher is an EMA of the
student and the EoR teacher an EMA of the EoR module, with one schedule."""
from typing import Any, Dict, Optional

from mmengine.hooks import Hook

from ..registry import HOOKS, register
from ..teachers.ema import BUFFER_POLICIES, build_ema_plan, copy_student_to_teacher_, ema_update_
from ..teachers.momentum import build_momentum_schedule
from ..utils.errors import ConfigKeyError, check_choice
from .ema_teacher_hook import check_every_teacher_is_updated, unwrap_teacher_student

STATE_KEY = 'mtkit_stable_teacher'


@register(HOOKS)
class StableTeacherHook(Hook):
    """EMA updates of ``pairs`` (teacher name -> student name) after every training iteration.

    By default the model's ``teacher`` follows its ``student`` and its ``eor_teacher`` follows
    its ``eor``, both with the published ``alpha = min(1 - 1 / (step + 1), 0.99)`` (weight of
    the old value; ``schedule=dict(type='mean_teacher', alpha_max=0.99)``). Any schedule of
    :mod:`mtkit.teachers.momentum` can replace it. On a fresh start every teacher starts as a
    copy of its student.

    The update count is saved in the checkpoint (``mtkit_stable_teacher``) with the schedule
    and pairs, and a resume continues from it; a checkpoint made with other pairs is an error.

    Args:
        schedule: Momentum schedule config (MMEngine's momentum convention: weight of the new
            value).
        pairs: ``{teacher attribute: student attribute}`` of the model.
        buffer_policy: As :class:`~mtkit.hooks.EMATeacherHook`.
    """

    priority = 'NORMAL'

    def __init__(self,
                 schedule: Optional[Dict[str, Any]] = None,
                 pairs: Optional[Dict[str, str]] = None,
                 buffer_policy: str = 'copy') -> None:
        self.schedule_cfg = dict(schedule or dict(type='mean_teacher', alpha_max=0.99))
        self.schedule = build_momentum_schedule(self.schedule_cfg)
        self.pairs = dict(pairs or dict(teacher='student', eor_teacher='eor'))
        if not self.pairs:
            raise ConfigKeyError('StableTeacherHook: pairs is empty')
        check_choice('StableTeacherHook.buffer_policy', buffer_policy, BUFFER_POLICIES)
        self.buffer_policy = buffer_policy
        self.step = 0
        self._plans = []
        self._loaded: Optional[dict] = None

    @property
    def updated_teachers(self) -> tuple:
        return tuple(self.pairs)

    def before_train(self, runner) -> None:
        self._plans = []
        model = None
        for teacher_name, student_name in self.pairs.items():
            model, teacher, student = unwrap_teacher_student(runner.model, teacher_name,
                                                             student_name, type(self).__name__)
            self._plans.append(build_ema_plan(teacher, student, self.buffer_policy))
        check_every_teacher_is_updated(runner, model)
        if runner.iter == 0:
            self.step = 0
            for plan in self._plans:
                copy_student_to_teacher_(plan)
        elif self._loaded is not None:
            if dict(self._loaded.get('pairs', {})) != self.pairs:
                raise ConfigKeyError(f'StableTeacherHook: the checkpoint was trained with pairs '
                                     f'{self._loaded.get("pairs")}, the config has {self.pairs}')
            self.step = int(self._loaded['step'])
        else:
            self.step = runner.iter  # a checkpoint without the hook's state: one update per iter

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        momentum = self.schedule(self.step)
        for plan in self._plans:
            ema_update_(plan, momentum)
        self.step += 1
        runner.message_hub.update_scalar('train/ema_momentum', momentum)

    def state_dict(self) -> dict:
        return dict(step=self.step, pairs=dict(self.pairs), schedule=dict(self.schedule_cfg))

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint[STATE_KEY] = self.state_dict()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._loaded = checkpoint.get(STATE_KEY)
