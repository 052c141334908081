"""MMEngine's CheckpointHook, keeping the previous best checkpoint until the new one is saved."""
from typing import List

from mmengine.hooks import CheckpointHook

from ..registry import HOOKS, register


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
    """:class:`mmengine.hooks.CheckpointHook` with one change: when a better model is found,
    the previous ``best_*.pth`` is deleted only **after** the new one is written (MMEngine
    deletes it first, so a run killed while saving had no best checkpoint at all). With mtkit's
    atomic writes, some complete best checkpoint is on disk at every moment. Same arguments;
    mtkit's runtime configs use it as ``default_hooks.checkpoint``."""

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
            if path in keep:
                continue
            if backend.isfile(path):
                backend.remove(path)
            elif backend.isdir(path):
                backend.rmtree(path)
