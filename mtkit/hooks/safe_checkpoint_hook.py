"""MMEngine's CheckpointHook, keeping every checkpoint it replaces until the new one is saved."""
import os.path as osp
from typing import List

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook

from ..registry import HOOKS, register
from ..utils.safe_io import atomic_write


class _DeferredRemovals:
    """A file backend that records ``remove`` / ``rmtree`` instead of doing them."""

    def __init__(self, backend, removals: List[str]) -> None:
        self._backend, self._removals = backend, removals

    def remove(self, path) -> None:
        self._removals.append(path)

    def rmtree(self, path) -> None:
        self._removals.append(path)

    def __getattr__(self, name):
        return getattr(self._backend, name)


@register(HOOKS)
class SafeCheckpointHook(CheckpointHook):
    """:class:`mmengine.hooks.CheckpointHook` that never deletes a checkpoint before the one
    replacing it is on disk. MMEngine deletes first: the oldest ``iter_N.pth`` beyond
    ``max_keep_ckpts`` before writing the new one, and the previous ``best_*.pth`` before the
    new best, so a run killed while saving with ``max_keep_ckpts=1`` had nothing to resume
    (``last_checkpoint`` named a deleted file). Here the order is: write the new checkpoint
    (atomically, by mtkit's file backend), then ``last_checkpoint`` (atomically too; MMEngine
    rewrites it in place), then delete what it replaces. With mtkit's atomic writes, a complete
    checkpoint named by ``last_checkpoint`` is on disk at every moment. Same arguments;
    mtkit's runtime configs use it as ``default_hooks.checkpoint``."""

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        expired = []
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids
                                            and self.keep_ckpt_ids[-1] == step):
            # a step saved twice (once more after a new best) rotates nothing
            while len(self.keep_ckpt_ids) >= self.max_keep_ckpts:
                expired.append(self.file_backend.join_path(
                    self.out_dir, self.filename_tmpl.format(self.keep_ckpt_ids.popleft())))
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))
        filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(
            self.out_dir, filename, self.file_client_args, save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler, meta=meta, by_epoch=self.by_epoch,
            backend_args=self.backend_args, **self.args)
        if not is_main_process():
            return
        atomic_write(str(self.last_ckpt).encode(), osp.join(runner.work_dir, 'last_checkpoint'))
        for path in expired:
            self._remove(path)

    def _remove(self, path) -> None:
        if self.file_backend.isfile(path):
            self.file_backend.remove(path)
        elif self.file_backend.isdir(path):  # DeepSpeed saves folders
            self.file_backend.rmtree(path)

    def _save_best_checkpoint(self, runner, metrics) -> None:
        removals: List[str] = []
        backend = self.file_backend
        self.file_backend = _DeferredRemovals(backend, removals)
        try:
            super()._save_best_checkpoint(runner, metrics)
        finally:
            self.file_backend = backend
        keep = {getattr(self, 'best_ckpt_path', None)} | set(
            getattr(self, 'best_ckpt_path_dict', {}).values())
        for path in removals:
            if path not in keep:
                self._remove(path)
