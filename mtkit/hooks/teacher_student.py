"""The base of mtkit's teacher hooks: EMA teachers that follow students, wired into MMEngine.

:class:`TeacherStudentHook` holds what every teacher hook does the same way, so that the hooks
(:class:`~mtkit.hooks.EMATeacherHook`, :class:`~mtkit.hooks.DualTeacherHook`,
:class:`~mtkit.hooks.StableTeacherHook`) are presets that only say *when* which teacher moves
and by how much:

* unwrap a (DDP-wrapped) model and find its ``(teacher, student)`` submodule pairs: by default
  those of the model's contract (``teacher_pairs`` of a
  :class:`~mtkit.models.teacher_student.TeacherStudentModel`); pairs a hook is given that the
  model does not declare are a :class:`ConfigKeyError` naming both;
* tell the model the current iteration before every training iteration
  (``model.set_train_iter(runner.iter)``, the contract's one channel);
* check that every teacher the model declares is updated by exactly one hook;
* validate the buffer policy once and build one fused EMA plan per pair
  (:mod:`mtkit.teachers.ema`);
* **one resume rule**: on a fresh start (``runner.iter == 0``) the hook's state is reset and
  every teacher starts as a copy of its student (unless ``init_teachers=False``); on resume the
  hook's state is restored from the checkpoint (key :attr:`state_key`); a checkpoint without it
  (made before the hook saved state, or by another hook) derives the state from
  ``runner.iter`` (one update per iteration), which is logged. The teachers' weights are in
  the model's state dict either way.

The momentum convention is the one of :mod:`mtkit.teachers.ema`: the weight of the new value.
"""
import math
import os.path as osp
from typing import Dict, List, Optional

from mmengine.dist import get_world_size
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner import BaseLoop, find_latest_checkpoint
from torch import nn

from ..models.teacher_student import TeacherStudentModel
from ..teachers.ema import BUFFER_POLICIES, build_ema_plan, copy_student_to_teacher_, ema_update_
from ..utils.errors import ConfigKeyError, check_choice


def unwrap_model(runner_model: nn.Module) -> nn.Module:
    """The model inside MMEngine's DDP / FSDP wrappers (or the model itself)."""
    return runner_model.module if is_model_wrapper(runner_model) else runner_model


def contract_of(model: nn.Module) -> Optional[TeacherStudentModel]:
    """``model`` when it is a :class:`TeacherStudentModel` (mtkit's wrappers), else None (e.g.
    mmdet's ``SemiBaseDetector``: the hooks then use their own arguments)."""
    return model if isinstance(model, TeacherStudentModel) else None


def check_interval(owner: str, interval, allow_none: bool = False) -> None:
    """``interval`` must be an int >= 1 (or None when ``allow_none``)."""
    if interval is None and allow_none:
        return
    if not isinstance(interval, int) or interval < 1:
        raise ConfigKeyError(f'{owner}: interval must be an int >= 1'
                             f'{" or None" if allow_none else ""}, got {interval!r}')


def epoch_length(runner) -> int:
    """Iterations of one pass over the training set:
    ``ceil(len(dataset) / (batch_size * world_size))``."""
    loader = runner.train_dataloader
    return max(1, math.ceil(len(loader.dataset) / (loader.batch_size * get_world_size())))


def check_pair(model: nn.Module, teacher: str, student: str, hook_name: str) -> None:
    """Raise :class:`ConfigKeyError` when ``teacher`` or ``student`` is not a submodule of
    ``model``, naming the missing one(s)."""
    missing = [n for n in (teacher, student)
               if not isinstance(getattr(model, n, None), nn.Module)]
    if missing:
        raise ConfigKeyError(
            f'{hook_name} needs a model with `{teacher}` and `{student}` submodules '
            f'(e.g. mtkit.MeanTeacherDetector or mmdet SemiBaseDetector); '
            f'{type(model).__name__} has no {missing}. Wrap the detector/segmentor in a '
            f'teacher-student model, or remove the hook from custom_hooks.')


def check_every_teacher_is_updated(runner, model) -> None:
    """Each teacher a model lists in ``ema_teachers`` must be updated by exactly one hook
    (hooks name theirs in ``updated_teachers``); otherwise a :class:`ConfigKeyError`."""
    owners: Dict[str, List[str]] = {}
    for h in runner.hooks:
        if isinstance(h, TeacherStudentHook):
            h.resolve_pairs(model)
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


def check_start_checkpoint(runner, reason: str) -> None:
    """A run that must start from a checkpoint (``reason``, from the model) has one: an
    existing ``load_from`` file, or a resume that finds one; else a :class:`ConfigKeyError`
    naming ``load_from``."""
    load_from, resume = runner._load_from, runner._resume
    if resume and load_from is None and find_latest_checkpoint(runner.work_dir) is not None:
        return
    if load_from is None:
        raise ConfigKeyError(
            f'load_from is not set, but {reason}. Set load_from to the source model\'s '
            f'checkpoint (e.g. --cfg-options load_from=work_dirs/source/iter_5000.pth)')
    if '://' not in str(load_from) and not osp.isfile(load_from):
        raise ConfigKeyError(f'load_from={load_from!r}: no such file, and {reason}')


class TeacherStudentHook(Hook):
    """Base of the teacher hooks (see the module docstring); not registered itself.

    Subclasses set :attr:`state_key` and decide in ``after_train_iter`` which plans to update
    with which momentum (:meth:`update`). Hook-specific state goes through
    :meth:`reset_state`, :meth:`derive_state`, :meth:`state_dict` and :meth:`load_state`
    (call ``super()`` for the update count ``step``).

    Subclasses resolve their pairs against the model in :meth:`pairs_for` (called once, before
    training, by :meth:`resolve_pairs`).

    Args:
        pairs: ``{teacher attribute: student attribute}`` of the model, in order; None: from
            the model (:meth:`pairs_for`).
        buffer_policy: ``'copy'``, ``'average'`` or ``'keep'`` (:func:`build_ema_plan`).
        init_teachers: On a fresh start copy every student into its teacher.
    """

    priority = 'NORMAL'
    #: checkpoint key of the hook's state
    state_key: str = ''
    #: the pairs of a model without the teacher-student contract when none are given
    FOREIGN_PAIRS: Optional[Dict[str, str]] = None

    def __init__(self, pairs: Optional[Dict[str, str]] = None, buffer_policy: str = 'copy',
                 init_teachers: bool = True) -> None:
        name = type(self).__name__
        if pairs is not None and not pairs:
            raise ConfigKeyError(f'{name}: pairs is empty; give {{teacher: student}} names')
        check_choice(f'{name}.buffer_policy', buffer_policy, BUFFER_POLICIES)
        self.given_pairs = None if pairs is None else dict(pairs)
        self.pairs: Dict[str, str] = {} if pairs is None else dict(pairs)
        self._resolved_for: Optional[int] = None
        self.buffer_policy = buffer_policy
        self.init_teachers = init_teachers
        self.step = 0
        self.model: Optional[nn.Module] = None
        self.plans: Dict[str, object] = {}
        self._loaded: Optional[dict] = None

    @property
    def updated_teachers(self) -> tuple:
        return tuple(self.pairs)

    # ------------------------------------------------------------------ pairs
    def pairs_for(self, model: nn.Module) -> Dict[str, str]:
        """The pairs this hook updates on ``model``: the given ones, which a
        :class:`TeacherStudentModel` must declare, or else all the model's pairs. Subclasses
        narrow it (one teacher, the active one, ...)."""
        contract = contract_of(model)
        if self.given_pairs is None:
            if contract is None and self.FOREIGN_PAIRS is not None:
                return dict(self.FOREIGN_PAIRS)
            if contract is None:
                raise ConfigKeyError(f'{type(self).__name__}: give pairs for a model without the '
                                     f'teacher-student contract ({type(model).__name__})')
            return dict(contract.teacher_pairs)
        if contract is not None:
            self.check_declared(contract, self.given_pairs, 'pairs')
        return dict(self.given_pairs)

    def check_declared(self, model: TeacherStudentModel, pairs: Dict[str, str],
                       key: str) -> None:
        """Every pair in ``pairs`` (the hook's config key ``key``) is one the model declares;
        else a :class:`ConfigKeyError` naming both."""
        wrong = {t: s for t, s in pairs.items() if model.teacher_pairs.get(t) != s}
        if wrong:
            raise ConfigKeyError(
                f'{type(self).__name__}.{key} gives {wrong}, but {model.owner} declares the pairs '
                f'{model.teacher_pairs} (teacher: student; from its config, e.g. num_teachers, '
                f'the pseudo filters or use_eor); leave {key} unset to take them from the model')

    def resolve_pairs(self, model: nn.Module) -> None:
        """Fix :attr:`pairs` for ``model`` (once per model)."""
        if self._resolved_for == id(model):
            return
        self.pairs = self.pairs_for(model)
        if not self.pairs:
            raise ConfigKeyError(f'{type(self).__name__}: no (teacher, student) pair to update '
                                 f'on {type(model).__name__}')
        self._resolved_for = id(model)

    # ------------------------------------------------------------------ state
    def reset_state(self) -> None:
        """State of a fresh start."""
        self.step = 0

    def derive_state(self, it: int) -> None:
        """State at iteration ``it`` of a checkpoint that has none: one update per iteration."""
        self.step = it

    def state_dict(self) -> dict:
        return dict(step=self.step, pairs=dict(self.pairs))

    def load_state(self, state: dict) -> None:
        """Restore :meth:`state_dict`; a checkpoint made with other pairs is an error."""
        if dict(state.get('pairs', self.pairs)) != self.pairs:
            raise ConfigKeyError(f'{type(self).__name__}: the checkpoint was trained with pairs '
                                 f'{state.get("pairs")}, the config has {self.pairs}')
        self.step = int(state['step'])

    # ------------------------------------------------------------------ setup
    def check_model(self, runner, model: nn.Module) -> None:
        """Subclass hook: further requirements on the model, before any state is touched."""

    def setup(self, runner) -> None:
        """Subclass hook: settings that depend on the runner, before the state is set."""

    def before_run(self, runner) -> None:
        """Before any weights are loaded: a model that must start from a checkpoint
        (:meth:`~mtkit.models.teacher_student.TeacherStudentModel.start_checkpoint_reason`)
        has one to start from."""
        contract = contract_of(unwrap_model(runner.model))
        reason = contract.start_checkpoint_reason() if contract is not None else None
        if reason and isinstance(runner._train_loop, BaseLoop):  # training, not a test run
            check_start_checkpoint(runner, reason)

    def before_train(self, runner) -> None:
        model = unwrap_model(runner.model)
        self.resolve_pairs(model)
        for teacher, student in self.pairs.items():
            check_pair(model, teacher, student, type(self).__name__)
        self.check_model(runner, model)
        check_every_teacher_is_updated(runner, model)
        self.model = model
        self.plans = {t: build_ema_plan(getattr(model, t), getattr(model, s), self.buffer_policy)
                      for t, s in self.pairs.items()}
        self.setup(runner)
        if runner.iter == 0:
            self.reset_state()
            if self.init_teachers:
                for plan in self.plans.values():
                    copy_student_to_teacher_(plan)
        elif self._loaded is not None:
            self.load_state(self._loaded)
        else:
            self.derive_state(runner.iter)
            print_log(f'{type(self).__name__}: the checkpoint has no {self.state_key!r} state; '
                      f'derived {self.state_dict()} from iteration {runner.iter}',
                      logger='current')
        self._loaded = None

    # ------------------------------------------------------------------ training
    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        """The contract's iteration channel: the model learns the current iteration."""
        contract = contract_of(self.model) if self.model is not None else None
        if contract is not None:
            contract.set_train_iter(runner.iter)

    def update(self, runner, teachers, momentum: float) -> None:
        """One EMA step of the named teachers towards their students; logs the momentum."""
        for name in teachers:
            ema_update_(self.plans[name], momentum)
        runner.message_hub.update_scalar('train/ema_momentum', momentum)

    # ------------------------------------------------------------------ checkpoints
    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint[self.state_key] = self.state_dict()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._loaded = checkpoint.get(self.state_key)
