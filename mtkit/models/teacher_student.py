"""The teacher-student model contract: the one base of mtkit's wrappers (docs/teacher_student.md).

A :class:`TeacherStudentModel` names, in one place, everything hooks, loops and tools may rely
on:

* **pairs** -- ``teacher_pairs``: ``{teacher attribute: student attribute}``, any number of
  named (teacher, student) pairs (one student with two teachers, two students each with its own
  teacher, an EoR module with its EMA copy). The teacher hooks update exactly these pairs and
  take them from here by default. ``ema_teachers`` are their keys.
* **who predicts** -- ``semi_test_cfg['predict_on']``, one of :meth:`predictors` (checked at
  build time); :meth:`predicting_model` returns it.
* **who makes the pseudo labels** -- ``active_teacher`` (set with :meth:`set_active_teacher`,
  e.g. by ``DualTeacherHook``); per-teacher settings via :meth:`update_train_cfg`, validated as
  at build time.
* **the current iteration** -- ``train_iter``, set by the teacher hooks before every training
  iteration (:meth:`set_train_iter`). It is the only way the iteration reaches a model: the
  unsupervised weight's burn-in / ramp, NaN messages, and per-iteration random draws read it.
* **burn-in** -- ``semi_train_cfg['burn_in_iters']`` (:attr:`burn_in_iters`): the
  unsupervised weight is 0 before it and the teacher is not run; the losses of those
  iterations are :meth:`zero_loss` (connected to the students' parameters, so the backward
  pass and DDP's gradient bucketing stay valid).
* **loss names** -- every loss is ``sup_*`` (labeled data) or ``unsup_*`` (unlabeled data);
  ``unsup_weight`` is logged with them.
* **pseudo-label statistics** -- ``pseudo_stats``, running sums on the device, and
  :meth:`pseudo_label_scalars`, the one channel ``PseudoLabelDiagnosticsHook`` logs for every
  task (counts, kept share; precision / recall of boxes or accuracy of pixels against held-out
  labels).
* **checkpoints** -- a non-finite tensor is refused; a plain (non-wrapper) checkpoint fills
  every model in :meth:`plain_checkpoint_targets`.
* **the default data preprocessor** -- :func:`default_preprocessor`.
"""
import copy
from typing import Dict, Iterable, Optional, Tuple

import torch
from mmengine.model import BaseModel
from torch import Tensor, nn

from ..filters import FilterChain
from ..filters.diagnostics import PseudoLabelStats
from ..losses.ramps import ramp_weight
from ..utils.errors import ConfigKeyError, check_cfg, check_choice, check_shorthands
from .semi_common import check_finite, check_finite_state_dict, spread_plain_state_dict


#: ``semi_train_cfg`` keys every teacher-student model has: the weights of the labeled and the
#: unlabeled losses and the unlabeled weight's schedule (burn-in, then a ramp of ``ramp_iters``
#: iterations: ``'linear'``, ``'sigmoid'`` or ``'step'``). Subclasses extend (and may
#: override) them: ``TRAIN_DEFAULTS = dict(SCHEDULE_DEFAULTS, ...)``.
SCHEDULE_DEFAULTS = dict(sup_weight=1.0, unsup_weight=1.0, burn_in_iters=0, ramp_iters=0,
                         ramp='linear')


def default_preprocessor(owner: str, given: Optional[dict], inner: Optional[dict],
                         wrapper: Optional[str] = None) -> dict:
    """The data preprocessor of a teacher-student model.

    ``given`` (the model's ``data_preprocessor``) or else ``inner`` (the wrapped model's own);
    neither is a :class:`ConfigKeyError` naming ``owner``. With ``wrapper`` (a registry type
    name), a config that is not already of that type is wrapped as
    ``dict(type=wrapper, data_preprocessor=cfg)``."""
    cfg = given if given is not None else inner
    if cfg is None:
        raise ConfigKeyError(f'{owner}: give data_preprocessor, or a wrapped model config with '
                             f'its own data_preprocessor')
    if wrapper is None:
        return cfg
    kind = str(cfg.get('type', '')).split('.')[-1]
    if kind == wrapper.split('.')[-1]:
        return cfg
    return dict(type=wrapper, data_preprocessor=cfg)


def without_preprocessor(model_cfg: dict) -> dict:
    """A copy of a wrapped model's config without its data preprocessor (the wrapper's does
    the work)."""
    cfg = copy.deepcopy(dict(model_cfg))
    cfg.pop('data_preprocessor', None)
    return cfg


class TeacherStudentModel(BaseModel):
    """Base of mtkit's teacher-student wrappers; see the module docstring for the contract.

    Subclasses set ``TRAIN_DEFAULTS`` (:data:`SCHEDULE_DEFAULTS` and their own keys) and
    optionally ``TEST_DEFAULTS``, ``STAT_KEYS``, ``FILTER_SHORTHANDS``; override
    :meth:`check_train_cfg`; build their submodules and declare them with :meth:`add_pair`,
    then call :meth:`finish_pairs`.
    """

    TRAIN_DEFAULTS: dict = SCHEDULE_DEFAULTS
    TEST_DEFAULTS: dict = dict(predict_on='teacher')
    #: keys of ``pseudo_stats`` (see :class:`~mtkit.filters.diagnostics.PseudoLabelStats`)
    STAT_KEYS: Tuple[str, ...] = ()
    #: keys of ``semi_train_cfg`` that only build the default ``pseudo_filters``
    FILTER_SHORTHANDS: Tuple[str, ...] = ()
    #: the multi-branch preprocessor that wraps the wrapped model's (:func:`default_preprocessor`)
    PREPROCESSOR_WRAPPER: Optional[str] = None

    def __init__(self, semi_train_cfg: Optional[dict], semi_test_cfg: Optional[dict],
                 data_preprocessor: Optional[dict], init_cfg=None,
                 wrapped: Optional[dict] = None) -> None:
        """``wrapped``: the config of the wrapped model (detector, segmentor), whose data
        preprocessor is the default one (in ``PREPROCESSOR_WRAPPER``)."""
        owner = self.owner
        if wrapped is not None:
            data_preprocessor = default_preprocessor(owner, data_preprocessor,
                                                     wrapped.get('data_preprocessor'),
                                                     self.PREPROCESSOR_WRAPPER)
        if self.FILTER_SHORTHANDS:
            check_shorthands(f'{owner}.semi_train_cfg', semi_train_cfg, 'pseudo_filters',
                             self.FILTER_SHORTHANDS)
        train_cfg = check_cfg(f'{owner}.semi_train_cfg', semi_train_cfg, self.TRAIN_DEFAULTS)
        test_cfg = check_cfg(f'{owner}.semi_test_cfg', semi_test_cfg, self.TEST_DEFAULTS)
        self._check_schedule(train_cfg)
        self.check_train_cfg(train_cfg)
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.semi_train_cfg = train_cfg
        self.semi_test_cfg = test_cfg
        #: ``{teacher attribute: student attribute}``, in order
        self.teacher_pairs: Dict[str, str] = {}
        #: the teacher that makes the pseudo labels
        self.active_teacher: Optional[str] = None
        #: the current training iteration (set by the teacher hooks)
        self.train_iter = 0
        self._iter_fed = False
        self.pseudo_stats = PseudoLabelStats(self.STAT_KEYS)

    # ------------------------------------------------------------------ configuration
    @property
    def owner(self) -> str:
        return type(self).__name__

    def check_train_cfg(self, cfg: dict) -> None:
        """Subclass hook: validate ``semi_train_cfg`` (at build time and on every
        :meth:`update_train_cfg`); raise :class:`ConfigKeyError`."""

    def _check_schedule(self, cfg: dict) -> None:
        ramp_weight(0, cfg['burn_in_iters'], cfg['ramp_iters'], cfg['ramp'])

    def update_train_cfg(self, **kwargs) -> None:
        """Change ``semi_train_cfg`` keys (e.g. ``DualTeacherHook``'s per-teacher settings),
        checked exactly as at build time."""
        new = check_cfg(f'{self.owner}.semi_train_cfg', dict(self.semi_train_cfg, **kwargs),
                        self.TRAIN_DEFAULTS)
        self._check_schedule(new)
        self.check_train_cfg(new)
        self.semi_train_cfg.update(new)

    def build_pseudo_filter(self, defaults: list, num_teachers: int) -> int:
        """``self.pseudo_filter``: the :class:`~mtkit.filters.FilterChain` of
        ``semi_train_cfg.pseudo_filters``, or of ``defaults`` (built from the shorthands) when
        it is None. Returns the number of teachers the chain needs (2 for a consensus)."""
        self.pseudo_filter, num_teachers = FilterChain.for_model(
            self.owner, self.semi_train_cfg['pseudo_filters'], defaults, num_teachers)
        return num_teachers

    def check_filter_classes(self, num_classes: int) -> None:
        """The filters' per-class settings against the model's number of classes."""
        given = self.semi_train_cfg['pseudo_filters'] is not None
        self.pseudo_filter.check_num_classes(
            num_classes, f'{self.owner}.semi_train_cfg.' +
            ('pseudo_filters' if given else ' -> '.join(self.FILTER_SHORTHANDS[:1])
             + ' -> pseudo_filters'))

    @property
    def burn_in_iters(self) -> int:
        return int(self.semi_train_cfg['burn_in_iters'])

    def start_checkpoint_reason(self) -> Optional[str]:
        """Why this configuration cannot train from fresh weights (None: it can). The teacher
        hooks then refuse to start without a checkpoint to load (``load_from`` or a resume)."""
        return None

    # ------------------------------------------------------------------ pairs
    def add_pair(self, teacher: str, student: str, module: Optional[nn.Module] = None,
                 freeze: bool = True) -> None:
        """Declare ``teacher`` an EMA of ``student`` (both attributes). ``module``: the
        teacher to attach; ``freeze``: no gradients, eval mode."""
        if module is not None:
            setattr(self, teacher, module)
        for name in (teacher, student):
            if not isinstance(getattr(self, name, None), nn.Module):
                raise ConfigKeyError(f'{self.owner}: pair ({teacher!r}, {student!r}) names '
                                     f'{name!r}, which is not a submodule')
        if freeze:
            getattr(self, teacher).requires_grad_(False)
            getattr(self, teacher).eval()
        self.teacher_pairs[teacher] = student
        if self.active_teacher is None:
            self.active_teacher = teacher

    def finish_pairs(self) -> None:
        """Check ``semi_test_cfg.predict_on`` once every pair is declared."""
        check_choice(f'{self.owner}.semi_test_cfg.predict_on', self.semi_test_cfg['predict_on'],
                     self.predictors())

    @property
    def ema_teachers(self) -> Tuple[str, ...]:
        return tuple(self.teacher_pairs)

    @property
    def students(self) -> Tuple[str, ...]:
        return tuple(dict.fromkeys(self.teacher_pairs.values()))

    def predictors(self) -> Tuple[str, ...]:
        """Models that can predict: the students and teachers that share the main student's
        architecture (``predict_on`` and the evaluation loops choose among them)."""
        main = 'student'
        return (main, ) + tuple(t for t, s in self.teacher_pairs.items() if s == main)

    def predicting_model(self) -> nn.Module:
        return getattr(self, self.semi_test_cfg['predict_on'])

    def set_active_teacher(self, name: str) -> None:
        check_choice(f'{self.owner}.active_teacher', name, self.ema_teachers)
        self.active_teacher = name

    # ------------------------------------------------------------------ iteration
    def set_train_iter(self, it: int) -> None:
        """The current training iteration (0-based), from the teacher hooks."""
        self.train_iter = int(it)
        self._iter_fed = True

    def train_step(self, data, optim_wrapper):
        """MMEngine's training step, refused when no teacher hook feeds the model: its teachers
        would never move and its burn-in / ramp would stay at iteration 0."""
        if not self._iter_fed:
            raise ConfigKeyError(
                f'{self.owner} trains without a teacher hook: nothing updates its teachers '
                f'{self.teacher_pairs} or tells it the iteration. Add one to custom_hooks, '
                f"e.g. dict(type='mtkit.EMATeacherHook', momentum=...) (DualTeacherHook, "
                f'StableTeacherHook for those methods)')
        return super().train_step(data, optim_wrapper)

    def unsup_weight(self) -> float:
        """``unsup_weight`` times the burn-in / ramp factor at :attr:`train_iter`."""
        c = self.semi_train_cfg
        return c['unsup_weight'] * ramp_weight(self.train_iter, c['burn_in_iters'],
                                               c['ramp_iters'], c['ramp'])

    def check_finite(self, t, what: str) -> None:
        """Stop on NaN / inf in ``t`` (see :func:`~mtkit.models.semi_common.check_finite`)."""
        check_finite(t, f'{self.owner}: {what}', self.train_iter)

    def iter_generator(self, stream: int = 0) -> torch.Generator:
        """A CPU generator seeded by the run's seed and :attr:`train_iter`: random draws that
        do not depend on how much of torch's RNG stream was used before, so a resumed run
        draws what a straight one does (MMEngine does not checkpoint RNG states). ``stream``:
        independent draws within one iteration (e.g. one per teacher-student pair)."""
        return torch.Generator().manual_seed(
            (torch.initial_seed() + 1_000_003 * (self.train_iter + 1) + 7_919 * stream)
            % (2**63 - 1))

    # ------------------------------------------------------------------ losses
    def zero_loss(self, students: Optional[Iterable[str]] = None) -> Tensor:
        """0, connected to every trainable parameter's graph of ``students`` (default: all),
        for the losses of a step that has none (burn-in, no pseudo label)."""
        names = self.students if students is None else tuple(students)
        params = [p.view(-1)[:1] for n in names for p in getattr(self, n).parameters()
                  if p.requires_grad]
        return torch.cat(params).sum() * 0.0

    @staticmethod
    def prefixed(losses: dict, prefix: str, weight: float = 1.0) -> dict:
        """``losses`` with ``prefix`` on every key, loss terms (keys containing ``loss``)
        times ``weight`` (lists element-wise)."""
        out = {}
        for key, value in losses.items():
            if 'loss' in key and weight != 1.0:
                value = ([v * weight for v in value] if isinstance(value, (list, tuple))
                         else value * weight)
            out[prefix + key] = value
        return out

    # ------------------------------------------------------------------ diagnostics
    def pseudo_label_scalars(self) -> Dict[str, float]:
        """Summary of the pseudo labels since the last call (``pseudo/...`` names; one host
        read): subclasses turn :attr:`pseudo_stats`' sums into their task's quantities."""
        return {}

    # ------------------------------------------------------------------ forward
    def forward(self, inputs, data_samples=None, mode: str = 'tensor'):
        """MMEngine's contract: ``'loss'`` -> :meth:`loss`, ``'predict'`` -> :meth:`predict`
        (the ``predict_on`` model), ``'tensor'`` -> :meth:`tensor_forward` (the student's raw
        outputs)."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.tensor_forward(inputs, data_samples)
        raise RuntimeError(f'Invalid mode "{mode}". Only supports loss, predict and tensor mode')

    def tensor_forward(self, inputs, data_samples=None):
        return self.student._forward(inputs, data_samples)

    def predict(self, inputs: Tensor, data_samples=None):
        return self.predicting_model().predict(inputs, data_samples)

    # ------------------------------------------------------------------ checkpoints
    def plain_checkpoint_targets(self) -> Tuple[str, ...]:
        """The submodules a plain checkpoint of the wrapped model fills: the main student and
        its teachers."""
        return self.predictors()

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs) -> None:
        """Refuse non-finite tensors; a plain checkpoint (``load_from`` a supervised model)
        fills :meth:`plain_checkpoint_targets`."""
        check_finite_state_dict(state_dict, prefix, self.owner)
        spread_plain_state_dict(state_dict, prefix, self.plain_checkpoint_targets())
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)
