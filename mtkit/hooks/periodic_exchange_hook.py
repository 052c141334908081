"""MMEngine hook of the periodically exchanged teacher-student (PETS, Liu et al., ICCV 2023)."""
from typing import Dict, Optional

from mmengine.logging import print_log

from ..registry import HOOKS, register
from ..teachers.ema import build_ema_plan, copy_student_to_teacher_, swap_teacher_and_student_
from ..utils.errors import ConfigKeyError, check_choice
from .teacher_student import TeacherStudentHook, check_interval, contract_of, epoch_length

#: What happens at each exchange: the student and the static teacher swap weights (PETS);
#: the static teacher becomes a copy of the student (ablation: no swap back); nothing, the
#: static teacher stays the start model (ablation: frozen).
EXCHANGE_MODES = ('swap', 'copy', 'frozen')


def exchanges_before(it: int, interval: int) -> int:
    """Exchanges made before iteration ``it`` (one after every ``interval`` iterations)."""
    if interval < 1 or it < 0:
        raise ValueError(f'exchanges_before: need interval >= 1 and it >= 0, got {interval}, {it}')
    return it // interval


@register(HOOKS)
class PeriodicExchangeHook(TeacherStudentHook):
    """A dynamic EMA teacher and a static teacher that periodically exchanges weights with the
    student (PETS).

    The model has two teachers of one student, all starting from the same (source) weights: a
    :class:`~mtkit.models.MeanTeacherDetector` with ``num_teachers=2``. After every training
    iteration the *dynamic* teacher takes an EMA step towards the student (momentum = weight of
    the student, mtkit's convention); after every ``interval`` iterations (one epoch by default)
    the student and the *static* teacher **swap** their weights, parameters and buffers (a true
    swap through a cloned copy; the student keeps its tensors, so the optimizer's state stays
    attached to them), and the dynamic teacher goes on following the exchanged student. The
    pseudo labels are the consensus of both teachers (a ``ConsensusFilter`` in the model's
    filter chain); the dynamic teacher predicts at test time (``semi_test_cfg.predict_on``).

    Ablations (``mode``): ``'copy'`` makes the static teacher a copy of the student at each
    exchange (the student keeps its weights); ``'frozen'`` never touches it (it stays the start
    model).

    Every rank exchanges at the same iteration (no collective is needed: the student is the
    same on every rank after DDP's gradient average, and so are the teachers). State (iterations
    done, exchanges made, interval, mode) is saved under ``mtkit_periodic_exchange``; resuming
    with another interval or mode is a ``ConfigKeyError``. Each exchange is logged and
    ``train/exchanges`` counts them.

    Args:
        momentum: EMA weight of the student in the dynamic teacher's update.
        interval: Iterations between exchanges; None: one epoch,
            ``ceil(len(train dataset) / (batch_size * world_size))``.
        mode: ``'swap'`` (PETS), ``'copy'`` or ``'frozen'``.
        dynamic_teacher, static_teacher: The model's teacher names; None: its first and second
            EMA teachers (``teacher``, ``teacher2``).
        buffer_policy: The dynamic teacher's buffers (as :class:`~mtkit.hooks.EMATeacherHook`);
            an exchange always moves every buffer.
    """

    state_key = 'mtkit_periodic_exchange'

    def __init__(self, momentum: float = 0.001, interval: Optional[int] = None,
                 mode: str = 'swap', dynamic_teacher: Optional[str] = None,
                 static_teacher: Optional[str] = None, buffer_policy: str = 'copy') -> None:
        super().__init__(None, buffer_policy)
        check_interval('PeriodicExchangeHook', interval, allow_none=True)
        check_choice('PeriodicExchangeHook.mode', mode, EXCHANGE_MODES)
        if not 0.0 <= momentum <= 1.0:
            raise ConfigKeyError(f'PeriodicExchangeHook.momentum: expected a weight of the '
                                 f'student in [0, 1], got {momentum!r}')
        if dynamic_teacher is not None and dynamic_teacher == static_teacher:
            raise ConfigKeyError(f'PeriodicExchangeHook: dynamic_teacher and static_teacher '
                                 f'must differ, both are {dynamic_teacher!r}')
        self.momentum = float(momentum)
        self.interval = interval
        self._interval = interval
        self.mode = mode
        self.given = (dynamic_teacher, static_teacher)
        self.dynamic = self.static = None
        self.exchanges = 0

    # ------------------------------------------------------------------ setup
    def pairs_for(self, model) -> Dict[str, str]:
        contract = contract_of(model)
        if contract is None or len(contract.ema_teachers) < 2:
            have = contract.ema_teachers if contract is not None else type(model).__name__
            raise ConfigKeyError(
                f'PeriodicExchangeHook needs a teacher-student model with two teachers of one '
                f'student (e.g. mtkit.MeanTeacherDetector with num_teachers=2); got {have}')
        dynamic = self.given[0] or contract.ema_teachers[0]
        static = self.given[1] or next(t for t in contract.ema_teachers if t != dynamic)
        pairs = {}
        for key, name in (('dynamic_teacher', dynamic), ('static_teacher', static)):
            if name not in contract.teacher_pairs:
                raise ConfigKeyError(f'PeriodicExchangeHook.{key}={name!r}, but '
                                     f'{contract.owner} declares the teachers '
                                     f'{contract.ema_teachers}')
            pairs[name] = contract.teacher_pairs[name]
        if pairs[dynamic] != pairs[static]:
            raise ConfigKeyError(f'PeriodicExchangeHook: the teachers {dynamic!r} and '
                                 f'{static!r} follow different students {pairs}; PETS needs one')
        self.dynamic, self.static = dynamic, static
        return pairs

    def setup(self, runner) -> None:
        self._interval = self.interval or epoch_length(runner)
        # an exchange moves the whole state, whatever the dynamic teacher's buffer policy
        self.plans[self.static] = build_ema_plan(getattr(self.model, self.static),
                                                 getattr(self.model, self.pairs[self.static]),
                                                 'copy')

    # ------------------------------------------------------------------ state
    def reset_state(self) -> None:
        super().reset_state()
        self.exchanges = 0

    def derive_state(self, it: int) -> None:
        super().derive_state(it)
        self.exchanges = exchanges_before(it, self._interval)

    def state_dict(self) -> dict:
        return dict(super().state_dict(), exchanges=self.exchanges, interval=self._interval,
                    mode=self.mode)

    def load_state(self, state: dict) -> None:
        for key, mine in (('interval', self._interval), ('mode', self.mode)):
            if key in state and state[key] != mine:
                raise ConfigKeyError(
                    f'PeriodicExchangeHook: the checkpoint was trained with {key}={state[key]!r}, '
                    f'the config has {mine!r}; resuming would not continue the same run (train '
                    f'a new run with load_from instead of resume)')
        super().load_state(state)
        self.exchanges = int(state['exchanges'])

    # ------------------------------------------------------------------ training
    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        self.step += 1  # iterations done
        self.update(runner, (self.dynamic, ), self.momentum)
        if self.step % self._interval == 0:
            self.exchange(runner)
        runner.message_hub.update_scalar('train/exchanges', float(self.exchanges))

    def exchange(self, runner) -> None:
        """One exchange of the static teacher and the student (as ``mode`` says)."""
        plan = self.plans[self.static]
        if self.mode == 'swap':
            swap_teacher_and_student_(plan)
        elif self.mode == 'copy':
            copy_student_to_teacher_(plan)
        self.exchanges += 1
        student = self.pairs[self.static]
        what = {'swap': f'{student} <-> {self.static} swapped',
                'copy': f'{student} -> {self.static} copied',
                'frozen': f'{self.static} kept frozen'}[self.mode]
        print_log(f'PeriodicExchangeHook: exchange {self.exchanges} after iteration '
                  f'{self.step}: {what}', logger='current')
