"""Keep normalisation statistics equal on every rank (DDP without SyncBN)."""
from mmengine.dist import all_reduce_params, get_world_size
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from ..registry import HOOKS, register


def float_buffers(module) -> list:
    """The floating-point buffers of ``module`` (BatchNorm running means and variances, EMA
    teachers' included); integer counters such as ``num_batches_tracked`` advance alike on
    every rank and are left out."""
    return [b for b in module.buffers() if b.is_floating_point()]


@register(HOOKS)
class SyncNormBuffersHook(Hook):
    """Average the floating-point buffers of the whole model (student and teachers) across
    ranks every ``interval`` training iterations, and before every validation.

    DDP with ``broadcast_buffers=False`` (MMEngine's default) lets each rank's BatchNorm running
    statistics follow its own images; the checkpoint then keeps rank 0's, so a resumed run
    differs from a straight one, and each rank validates with other statistics. With
    ``interval=1`` (default) every rank holds the same buffers after every iteration, so
    checkpoints, resumes and validation agree across ranks. One coalesced all-reduce of the
    buffers per iteration (a few hundred KB for the shipped models). A single process does
    nothing.

    Args:
        interval: Iterations between synchronisations (checkpoints are exact when it divides
            the checkpoint interval).
    """

    priority = 'ABOVE_NORMAL'  # before the teacher hooks copy buffers and the checkpoint saves

    def __init__(self, interval: int = 1) -> None:
        if interval < 1:
            from ..utils.errors import ConfigKeyError
            raise ConfigKeyError(f'SyncNormBuffersHook.interval must be >= 1, got {interval}')
        self.interval = interval

    @staticmethod
    def _sync(runner) -> None:
        if get_world_size() < 2:
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        buffers = float_buffers(model)
        if buffers:
            all_reduce_params(buffers, op='mean')

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self.every_n_train_iters(runner, self.interval):
            self._sync(runner)

    def before_val_epoch(self, runner) -> None:
        self._sync(runner)
