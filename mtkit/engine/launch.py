"""Distributed launch on machines without CUDA (gloo on CPU processes).

MMEngine's launchers call ``torch.cuda.set_device`` unconditionally (a CPU build of torch has
no ``_cuda_setDevice``), default to the NCCL backend, and wrap the model in DDP with
``device_ids=[LOCAL_RANK]``; each of those fails on CPU. :func:`prepare_launch` is called by
``tools/train.py`` and ``tools/test.py`` before the Runner is built; it also adds the hook that
keeps BatchNorm statistics equal across ranks. Without a launcher it changes nothing.
"""
import gc

import torch
from mmengine.logging import print_log


def _cpu_set_device(device) -> None:  # noqa: ARG001
    """``torch.cuda.set_device`` on a machine without CUDA: nothing to select."""


def prepare_launch(cfg) -> None:
    """With a launcher (``cfg.launcher`` not ``'none'``):

    * add :class:`~mtkit.hooks.SyncNormBuffersHook` to ``custom_hooks`` (unless it is there
      or ``sync_bn`` is set), so BatchNorm statistics, checkpoints and validation agree across
      ranks;
    * without CUDA, make ``torch.cuda.set_device`` a no-op, use the gloo backend, and build
      DDP without ``device_ids`` (the model stays on the CPU).
    """
    if cfg.get('launcher', 'none') == 'none':
        return
    hooks = list(cfg.get('custom_hooks') or [])
    if not cfg.get('sync_bn') and not any(
            str(h.get('type', '')).split('.')[-1] == 'SyncNormBuffersHook' for h in hooks):
        cfg.custom_hooks = hooks + [dict(type='mtkit.SyncNormBuffersHook')]
        print_log('distributed: added mtkit.SyncNormBuffersHook (BatchNorm statistics '
                  'averaged across ranks after every iteration)', logger='current')
    if torch.cuda.is_available():
        return
    torch.cuda.set_device = _cpu_set_device
    env = cfg.setdefault('env_cfg', {})
    dist_cfg = env.setdefault('dist_cfg', {})
    if dist_cfg.get('backend', 'nccl') != 'gloo':
        print_log(f"no CUDA: env_cfg.dist_cfg.backend {dist_cfg.get('backend', 'nccl')!r} -> "
                  f"'gloo'", logger='current')
        dist_cfg['backend'] = 'gloo'
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel', broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper


def finish_launch() -> None:
    """Free the default process group, if one was created, while the interpreter is whole.

    ``tools/train.py`` and ``tools/test.py`` call it when the Runner is done (or has failed),
    holding no reference to it. A gloo worker thread drops its last reference to a finished
    collective (and so to the tensors it reduced) just after the caller's ``wait()`` returns;
    when that is the run's last collective and Python is already finalizing, the thread
    cannot take the GIL to free the tensors and the process aborts (SIGABRT, ``terminate
    called without an active exception``: a run that trained to the end fails under
    ``torchrun``). ``destroy_process_group`` alone does not stop those threads: the Runner's
    DDP wrapper still holds the group, and the Runner lives in reference cycles. So the cycles
    are collected first; the group's last reference then goes with ``destroy_process_group``,
    whose destructor joins the worker threads. Without a process group it does nothing.
    """
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        gc.collect()  # the Runner and its DDP wrapper, which hold the group
        dist.destroy_process_group()
