"""MMEngine hook for switching temporary teachers (Dual Teacher, Na et al., NeurIPS 2023)."""
import math
from typing import Any, Dict, Optional, Sequence

from ..registry import HOOKS, register
from ..teachers.ema import copy_student_to_teacher_
from ..teachers.momentum import build_momentum_schedule
from ..teachers.switching import switching_state
from ..utils.errors import ConfigKeyError
from .teacher_student import TeacherStudentHook, check_interval, contract_of, epoch_length


@register(HOOKS)
class DualTeacherHook(TeacherStudentHook):
    """N temporary EMA teachers that take turns making the pseudo labels.

    The active teacher switches every ``interval`` iterations (one epoch by default), or
    ``turns`` times over the run: the reference code trains 200 epochs of the labeled loader and
    switches every epoch, so ``turns=200`` keeps the paper's turn length relative to the
    schedule whatever its length (``ceil(max_iters / turns)`` iterations per turn). A teacher
    that becomes active restarts from the student and is then the only one updated, with
    momentum ``max(1 / (i + 1), momentum_min)`` (``i`` = updates since activation; the paper
    writes the weight of the old value, ``alpha_i = min(1 - 1 / (i + 1), alpha_max)``; the
    ``mean_teacher`` schedule of :mod:`mtkit.teachers.momentum`); the others
    keep their weights. The hook sets the model's active teacher (the teacher-student contract),
    so it works for detection and segmentation alike. Optionally each
    teacher brings its own ``semi_train_cfg`` keys, e.g. CutMix for one and ClassMix for the
    other, as in the paper.

    State (active teacher, updates since activation, period) is saved in the checkpoint under
    ``mtkit_dual_teacher`` and restored on resume; a checkpoint without it derives the state
    from the iteration (the resume rule of
    :class:`~mtkit.hooks.teacher_student.TeacherStudentHook`). The teachers' weights are in
    the model.

    Args:
        teacher_names: The model's teacher submodules, in turn order; None (default): every
            teacher the model declares. A name the model does not declare is a
            ``ConfigKeyError``.
        interval: Iterations per turn; None means one epoch, i.e.
            ``ceil(len(train dataset) / (batch_size * world_size))`` iterations.
        turns: Number of turns over ``train_cfg.max_iters`` instead of ``interval`` (give at
            most one of them).
        momentum_min: Floor of the momentum (weight of the student), 0.01 as published
            (the paper's ``alpha_max = 0.99``, the weight of the old value).
        teacher_train_cfgs: One dict of ``semi_train_cfg`` keys per teacher, applied when it
            becomes active (e.g. ``[dict(mix='cutmix'), dict(mix='classmix')]``).
        buffer_policy: As :class:`~mtkit.hooks.EMATeacherHook`.
        student_name: The student submodule (None: the model's).
    """

    state_key = 'mtkit_dual_teacher'

    def __init__(self,
                 teacher_names: Optional[Sequence[str]] = None,
                 interval: Optional[int] = None,
                 turns: Optional[int] = None,
                 momentum_min: float = 0.01,
                 teacher_train_cfgs: Optional[Sequence[Dict[str, Any]]] = None,
                 buffer_policy: str = 'copy',
                 student_name: Optional[str] = None) -> None:
        names = None if teacher_names is None else tuple(teacher_names)
        if names is not None and (len(names) < 1 or len(set(names)) != len(names)):
            raise ConfigKeyError(f'DualTeacherHook: teacher_names must be distinct names, got '
                                 f'{teacher_names!r}')
        super().__init__(None, buffer_policy)
        self.given_names, self.student_name = names, student_name
        self.teacher_names = names or ()
        check_interval('DualTeacherHook', interval, allow_none=True)
        if turns is not None and (interval is not None or turns < 1):
            raise ConfigKeyError(f'DualTeacherHook: turns must be >= 1 and given without '
                                 f'interval, got turns={turns}, interval={interval}')
        # each turn restarts the mean-teacher ramp (validates momentum_min)
        self.schedule = build_momentum_schedule(dict(type='mean_teacher',
                                                     momentum_min=momentum_min))
        self.interval = interval
        self.turns = turns
        self.teacher_train_cfgs = [dict(c) for c in teacher_train_cfgs or ()]
        if names is not None:  # else checked against the model's teachers
            self._check_train_cfgs(names)
        # schedule state (``step``: updates since the active teacher's activation)
        self.active = 0
        self.period = 0
        self._interval = interval

    # ------------------------------------------------------------------ setup
    def pairs_for(self, model) -> Dict[str, str]:
        contract = contract_of(model)
        if contract is None:
            names = self.given_names or ('teacher', 'teacher2')
            pairs = {t: self.student_name or 'student' for t in names}
        else:
            names = self.given_names or contract.ema_teachers
            unknown = [t for t in names if t not in contract.teacher_pairs]
            if unknown:
                raise ConfigKeyError(f'DualTeacherHook.teacher_names names {unknown}, but '
                                     f'{contract.owner} declares the teachers '
                                     f'{contract.ema_teachers} (num_teachers)')
            pairs = {t: self.student_name or contract.teacher_pairs[t] for t in names}
            self.check_declared(contract, pairs, 'student_name')
        self._check_train_cfgs(names)
        self.teacher_names = tuple(names)
        return pairs

    def _check_train_cfgs(self, names) -> None:
        """``teacher_train_cfgs``, when given, has one dict per teacher of ``names``."""
        if self.teacher_train_cfgs and len(self.teacher_train_cfgs) != len(names):
            raise ConfigKeyError(f'DualTeacherHook: teacher_train_cfgs needs one dict per '
                                 f'teacher ({len(names)}: {list(names)}), got '
                                 f'{len(self.teacher_train_cfgs)}')

    def check_model(self, runner, model) -> None:
        if contract_of(model) is None:
            raise ConfigKeyError(
                f'DualTeacherHook needs a teacher-student model that makes pseudo labels with '
                f'its active teacher (mtkit.MeanTeacherDetector / MeanTeacherSegmentor with '
                f'num_teachers={len(self.teacher_names)}); {type(model).__name__} is none')

    def setup(self, runner) -> None:
        if self.turns is not None:
            self._interval = max(1, math.ceil(runner.max_iters / self.turns))
        else:
            self._interval = self.interval or epoch_length(runner)

    def reset_state(self) -> None:
        super().reset_state()
        self.active, self.period = 0, 0

    def derive_state(self, it: int) -> None:
        self.period, self.active, self.step = switching_state(it, self._interval,
                                                              len(self.teacher_names))

    def state_dict(self) -> dict:
        return dict(active=self.active, step=self.step, period=self.period,
                    interval=self._interval, teacher_names=list(self.teacher_names))

    def load_state(self, state: dict) -> None:
        active = int(state['active'])
        if active >= len(self.teacher_names):
            raise ConfigKeyError(f'DualTeacherHook: the checkpoint has teacher {active} '
                                 f'active, but only {len(self.teacher_names)} are configured')
        self.active, self.step, self.period = active, int(state['step']), int(state['period'])

    def before_train(self, runner) -> None:
        super().before_train(runner)
        self._apply_active()

    def _apply_active(self) -> None:
        self.model.set_active_teacher(self.teacher_names[self.active])
        if self.teacher_train_cfgs:
            self.model.update_train_cfg(**self.teacher_train_cfgs[self.active])

    # ------------------------------------------------------------------ training
    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        super().before_train_iter(runner, batch_idx, data_batch)
        if self.step >= self._interval:  # the turn is over: the next teacher restarts
            self.active = (self.active + 1) % len(self.teacher_names)
            self.period += 1
            self.step = 0
            self._apply_active()
        if self.step == 0:
            copy_student_to_teacher_(self.plans[self.teacher_names[self.active]])

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        self.update(runner, (self.teacher_names[self.active], ), self.schedule(self.step))
        self.step += 1
        runner.message_hub.update_scalar('train/active_teacher', float(self.active))
