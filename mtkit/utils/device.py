"""Small tensors made on, or sent to, the device without the training step waiting for it.

``torch.tensor(x, device='cuda')`` copies ``x`` from pageable host memory and waits for the
copy (a device synchronisation, flagged by ``torch.cuda.set_sync_debug_mode``); a fill kernel
(:func:`device_scalar`) or a copy from pinned memory (:func:`host_to_device`) does not.
Boolean-mask indexing reads the mask's size back to the host once per indexed tensor;
:func:`take` reads it once per container.
"""
from typing import Any

import numpy as np
import torch
from torch import Tensor


def device_scalar(value: float, device, dtype: torch.dtype = torch.float32) -> Tensor:
    """A 0-d tensor holding ``value`` on ``device``, written by a fill kernel (no copy)."""
    return torch.full((), float(value), dtype=dtype, device=device)


def host_to_device(data: Any, device, dtype: torch.dtype = torch.float32) -> Tensor:
    """Host data (numpy array, nested lists) as a tensor on ``device``; to an accelerator it
    goes from pinned memory without blocking (stream-ordered: later kernels see it)."""
    t = torch.as_tensor(np.asarray(data), dtype=dtype)
    device = torch.device(device)
    if device.type == 'cpu':
        return t
    return t.pin_memory().to(device, non_blocking=True)


def take(items: Any, mask: Tensor) -> Any:
    """``items[mask]`` for a container of per-instance tensors (mmengine ``InstanceData``,
    whose boolean indexing reads the mask's size back once per field): the mask becomes
    indices once (one host read), and the fields are gathered by them."""
    if mask.dtype != torch.bool:
        raise TypeError(f'take: expected a bool mask, got {mask.dtype} (index tensors can be '
                        f'used directly)')
    return items[mask.nonzero().squeeze(1)]
