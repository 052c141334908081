"""MMEngine hook for switching temporary teachers (Dual Teacher, Na et al., NeurIPS 2023)."""
import math
from typing import Any, Dict, List, Optional, Sequence

from mmengine.dist import get_world_size
from mmengine.hooks import Hook
from mmengine.logging import print_log

from ..registry import HOOKS, register
from ..teachers.ema import BUFFER_POLICIES, build_ema_plan, copy_student_to_teacher_, ema_update_
from ..teachers.switching import restart_momentum, switching_state
from ..utils.errors import ConfigKeyError, check_choice
from .ema_teacher_hook import check_every_teacher_is_updated, unwrap_teacher_student

STATE_KEY = 'mtkit_dual_teacher'


@register(HOOKS)
class DualTeacherHook(Hook):
    """N temporary EMA teachers that take turns making the pseudo labels.

    The active teacher switches every ``interval`` iterations (one epoch by default), or
    ``turns`` times over the run: the reference code trains 200 epochs of the labeled loader and
    switches every epoch, so ``turns=200`` keeps the paper's turn length relative to the
    schedule whatever its length (``ceil(max_iters / turns)`` iterations per turn). A teacher
    that becomes active restarts from the student and is then the only one updated, with
    ``alpha_i = min(1 - 1 / (i + 1), alpha_max)`` (weight of its old value, ``i`` = updates since
    activation); the others keep their weights. The model reads ``model.active_teacher`` (mtkit's
    wrappers do), so the hook works for detection and segmentation alike. Optionally each
    teacher brings its own ``semi_train_cfg`` keys, e.g. CutMix for one and ClassMix for the
    other, as in the paper.

    State (active teacher, updates since activation, period) is saved in the checkpoint under
    ``mtkit_dual_teacher`` and restored on resume; the teachers' weights are in the model.

    Args:
        teacher_names: The model's teacher submodules, in turn order.
        interval: Iterations per turn; None means one epoch, i.e.
            ``ceil(len(train dataset) / (batch_size * world_size))`` iterations.
        turns: Number of turns over ``train_cfg.max_iters`` instead of ``interval`` (give at
            most one of them).
        alpha_max: Cap of the EMA weight of the old value (0.99 as published).
        teacher_train_cfgs: One dict of ``semi_train_cfg`` keys per teacher, applied when it
            becomes active (e.g. ``[dict(mix='cutmix'), dict(mix='classmix')]``).
        buffer_policy: As :class:`~mtkit.hooks.EMATeacherHook`.
        student_name: The student submodule.
    """

    priority = 'NORMAL'

    def __init__(self,
                 teacher_names: Sequence[str] = ('teacher', 'teacher2'),
                 interval: Optional[int] = None,
                 turns: Optional[int] = None,
                 alpha_max: float = 0.99,
                 teacher_train_cfgs: Optional[Sequence[Dict[str, Any]]] = None,
                 buffer_policy: str = 'copy',
                 student_name: str = 'student') -> None:
        self.teacher_names = tuple(teacher_names)
        if len(self.teacher_names) < 1 or len(set(self.teacher_names)) != len(self.teacher_names):
            raise ConfigKeyError(f'DualTeacherHook: teacher_names must be distinct names, got '
                                 f'{teacher_names!r}')
        if interval is not None and interval < 1:
            raise ConfigKeyError(f'DualTeacherHook: interval must be >= 1 or None (one epoch), '
                                 f'got {interval}')
        if turns is not None and (interval is not None or turns < 1):
            raise ConfigKeyError(f'DualTeacherHook: turns must be >= 1 and given without '
                                 f'interval, got turns={turns}, interval={interval}')
        restart_momentum(0, alpha_max)  # validates alpha_max
        check_choice('DualTeacherHook.buffer_policy', buffer_policy, BUFFER_POLICIES)
        if teacher_train_cfgs is not None and len(teacher_train_cfgs) != len(self.teacher_names):
            raise ConfigKeyError(f'DualTeacherHook: teacher_train_cfgs needs one dict per '
                                 f'teacher ({len(self.teacher_names)}), got '
                                 f'{len(teacher_train_cfgs)}')
        self.interval = interval
        self.turns = turns
        self.alpha_max = alpha_max
        self.teacher_train_cfgs = [dict(c) for c in teacher_train_cfgs or ()]
        self.buffer_policy = buffer_policy
        self.student_name = student_name
        # schedule state
        self.active = 0
        self.step = 0
        self.period = 0
        self._loaded: Optional[dict] = None
        self._plans: List = []
        self._interval = interval

    @property
    def updated_teachers(self) -> tuple:
        return self.teacher_names

    # ------------------------------------------------------------------ setup
    def _epoch_length(self, runner) -> int:
        loader = runner.train_dataloader
        return max(1, math.ceil(len(loader.dataset) / (loader.batch_size * get_world_size())))

    def before_train(self, runner) -> None:
        model = None
        for name in self.teacher_names:
            model, _, _ = unwrap_teacher_student(runner.model, name, self.student_name,
                                                 type(self).__name__)
        if not hasattr(model, 'active_teacher'):
            raise ConfigKeyError(
                f'DualTeacherHook needs a model that makes pseudo labels with '
                f'`model.active_teacher` (mtkit.MeanTeacherDetector / MeanTeacherSegmentor with '
                f'num_teachers={len(self.teacher_names)}); {type(model).__name__} has none')
        if self.teacher_train_cfgs and not hasattr(model, 'update_train_cfg'):
            raise ConfigKeyError(f'DualTeacherHook: teacher_train_cfgs needs a model with '
                                 f'update_train_cfg(); {type(model).__name__} has none')
        check_every_teacher_is_updated(runner, model)
        self._model = model
        student = getattr(model, self.student_name)
        self._plans = [build_ema_plan(getattr(model, n), student, self.buffer_policy)
                       for n in self.teacher_names]
        if self.turns is not None:
            self._interval = max(1, math.ceil(runner.max_iters / self.turns))
        else:
            self._interval = self.interval or self._epoch_length(runner)
        if runner.iter == 0:
            for plan in self._plans:
                copy_student_to_teacher_(plan)
            self.active, self.step, self.period = 0, 0, 0
        elif self._loaded is not None:
            self.active = int(self._loaded['active'])
            self.step = int(self._loaded['step'])
            self.period = int(self._loaded['period'])
            if self.active >= len(self.teacher_names):
                raise ConfigKeyError(f'DualTeacherHook: the checkpoint has teacher {self.active} '
                                     f'active, but only {len(self.teacher_names)} are configured')
        else:
            self.period, self.active, self.step = switching_state(
                runner.iter, self._interval, len(self.teacher_names))
            print_log(f'DualTeacherHook: the checkpoint has no {STATE_KEY} state; derived '
                      f'active teacher {self.teacher_names[self.active]} and step {self.step} '
                      f'from iteration {runner.iter}', logger='current')
        self._apply_active()

    def _apply_active(self) -> None:
        self._model.active_teacher = self.teacher_names[self.active]
        if self.teacher_train_cfgs:
            self._model.update_train_cfg(**self.teacher_train_cfgs[self.active])

    # ------------------------------------------------------------------ training
    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if self.step >= self._interval:  # the turn is over: the next teacher restarts
            self.active = (self.active + 1) % len(self.teacher_names)
            self.period += 1
            self.step = 0
            self._apply_active()
        if self.step == 0:
            copy_student_to_teacher_(self._plans[self.active])

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        momentum = restart_momentum(self.step, self.alpha_max)
        ema_update_(self._plans[self.active], momentum)
        self.step += 1
        runner.message_hub.update_scalar('train/ema_momentum', momentum)
        runner.message_hub.update_scalar('train/active_teacher', float(self.active))

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict:
        return dict(active=self.active, step=self.step, period=self.period,
                    interval=self._interval, teacher_names=list(self.teacher_names))

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint[STATE_KEY] = self.state_dict()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._loaded = checkpoint.get(STATE_KEY)
