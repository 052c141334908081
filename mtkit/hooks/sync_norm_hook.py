"""Keep normalisation statistics equal on every rank (DDP without SyncBN)."""
import re
from typing import List, Optional, Sequence

from mmengine.dist import all_reduce_params, get_world_size
from mmengine.hooks import Hook

from ..registry import HOOKS, register
from ..utils.errors import ConfigKeyError
from .teacher_student import check_interval, unwrap_model

NORM_STATISTICS = ('running_mean', 'running_var')


def norm_statistics(module) -> List[tuple]:
    """``(name, buffer)`` of every normalisation layer's running statistics in ``module``: the
    floating-point ``running_mean`` / ``running_var`` buffers (torch's BatchNorm / InstanceNorm
    with ``track_running_stats``, mmcv's and any other norm that keeps them under those names),
    the teachers' included. Nothing else: integer counters (``num_batches_tracked``) advance
    alike on every rank, and other buffers hold per-rank state that averaging would corrupt
    (e.g. :class:`~mtkit.filters.GMMThreshold`'s score queues)."""
    out = []
    for prefix, sub in module.named_modules():
        for name, buf in sub.named_buffers(recurse=False):
            if name in NORM_STATISTICS and buf is not None and buf.is_floating_point():
                out.append((f'{prefix}.{name}' if prefix else name, buf))
    return out


def named_buffers_matching(module, patterns: Sequence[str]) -> List[tuple]:
    """``(name, buffer)`` of the floating-point buffers whose full name matches one of the
    regular expressions ``patterns`` (``re.fullmatch``); a pattern that matches no buffer is a
    :class:`ConfigKeyError` (a typo would otherwise sync nothing)."""
    compiled = [re.compile(p) for p in patterns]
    found = [(n, b) for n, b in module.named_buffers()
             if b.is_floating_point() and any(c.fullmatch(n) for c in compiled)]
    for pattern, c in zip(patterns, compiled):
        if not any(c.fullmatch(n) for n, _ in found):
            raise ConfigKeyError(f'SyncNormBuffersHook.buffers: {pattern!r} matches no '
                                 f'floating-point buffer of the model (e.g. '
                                 f'{[n for n, _ in module.named_buffers()][:5]})')
    return found


@register(HOOKS)
class SyncNormBuffersHook(Hook):
    """Average the normalisation statistics of the whole model (student and teachers) across
    ranks every ``interval`` training iterations, and before every validation.

    DDP with ``broadcast_buffers=False`` (MMEngine's default) lets each rank's BatchNorm running
    statistics follow its own images; the checkpoint then keeps rank 0's, so a resumed run
    differs from a straight one, and each rank validates with other statistics. With
    ``interval=1`` (default) every rank holds the same statistics after every iteration, so
    checkpoints, resumes and validation agree across ranks. One coalesced all-reduce per
    iteration (a few hundred KB for the shipped models). A single process does nothing.

    Only the running means and variances of normalisation layers are averaged
    (:func:`norm_statistics`); per-rank state such as the GMM filters' score queues and
    thresholds stays each rank's own.

    Args:
        interval: Iterations between synchronisations (checkpoints are exact when it divides
            the checkpoint interval).
        buffers: Instead of the normalisation statistics, the full names (regular expressions,
            matched whole) of the floating-point buffers to average, e.g.
            ``['student\\..*running_(mean|var)']``.
    """

    priority = 'ABOVE_NORMAL'  # before the teacher hooks copy buffers and the checkpoint saves

    def __init__(self, interval: int = 1, buffers: Optional[Sequence[str]] = None) -> None:
        check_interval('SyncNormBuffersHook', interval)
        if buffers is not None and (isinstance(buffers, str) or not all(
                isinstance(p, str) for p in buffers)):
            raise ConfigKeyError(f'SyncNormBuffersHook.buffers: expected a list of regular '
                                 f'expressions (str), got {buffers!r}')
        self.interval = interval
        self.patterns = None if buffers is None else list(buffers)

    def selected(self, model) -> List[tuple]:
        """``(name, buffer)`` pairs this hook averages in ``model``."""
        if self.patterns is None:
            return norm_statistics(model)
        return named_buffers_matching(model, self.patterns)

    def _sync(self, runner) -> None:
        if get_world_size() < 2:
            return
        model = unwrap_model(runner.model)
        buffers = [b for _, b in self.selected(model)]
        if buffers:
            all_reduce_params(buffers, op='mean')

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self.every_n_train_iters(runner, self.interval):
            self._sync(runner)

    def before_val_epoch(self, runner) -> None:
        self._sync(runner)
