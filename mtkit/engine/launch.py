"""Distributed launch on machines without CUDA (gloo on CPU processes).

MMEngine's launchers call ``torch.cuda.set_device`` unconditionally (a CPU build of torch has
no ``_cuda_setDevice``), default to the NCCL backend, and wrap the model in DDP with
``device_ids=[LOCAL_RANK]``; each of those fails on CPU. :func:`prepare_launch` is called by
``tools/train.py`` and ``tools/test.py`` before the Runner is built; on a CUDA machine, or
without a launcher, it changes nothing.
"""
import torch
from mmengine.logging import print_log


def _cpu_set_device(device) -> None:  # noqa: ARG001
    """``torch.cuda.set_device`` on a machine without CUDA: nothing to select."""


def prepare_launch(cfg) -> None:
    """Without CUDA and with a launcher (``cfg.launcher`` not ``'none'``): make
    ``torch.cuda.set_device`` a no-op, use the gloo backend, and build DDP without
    ``device_ids`` (the model stays on the CPU)."""
    if cfg.get('launcher', 'none') == 'none' or torch.cuda.is_available():
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
