"""Make MMEngine checkpoints load under ``torch.load(weights_only=True)`` (torch >= 2.6).

MMEngine 0.10.7 calls ``torch.load`` without ``weights_only``, which torch >= 2.6 treats as
``weights_only=True``; a checkpoint written by a Runner then fails to load on ``resume=True``
because its ``message_hub`` holds :class:`~mmengine.logging.HistoryBuffer` objects with numpy
arrays. Instead of turning ``weights_only`` off (which would run arbitrary pickled code), this
module allowlists exactly what those checkpoints contain:

* ``mmengine.logging.history_buffer.HistoryBuffer``;
* numpy arrays and scalars: ``ndarray``, ``dtype`` (and its per-type classes),
  ``multiarray._reconstruct`` and ``multiarray.scalar`` under numpy 2's (``numpy._core``) and
  numpy 1's (``numpy.core``) module paths;
* ``builtins.getattr`` *only* in the form HistoryBuffer pickles it,
  ``getattr(HistoryBuffer, <statistics method>)``: the name is bound to a restricted function
  that refuses every other object or attribute, so it opens no path to arbitrary attributes.
"""
import pickle
from typing import Any, List, Tuple

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer

_DEFAULT_STATISTICS = ('min', 'max', 'current', 'mean')


def history_buffer_statistic(obj: Any, name: str) -> Any:
    """Restricted ``getattr``: only ``HistoryBuffer.<registered statistics method>``."""
    allowed = set(_DEFAULT_STATISTICS) | set(HistoryBuffer._statistics_methods)
    if obj is HistoryBuffer and isinstance(name, str) and name in allowed:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'mtkit checkpoint allowlist: refusing getattr({obj!r}, {name!r}); only '
        f'HistoryBuffer statistics methods {sorted(allowed)} may be looked up while loading')


def _numpy_globals() -> List[Tuple[Any, str]]:
    core = getattr(np, '_core', None) or np.core
    multiarray = core.multiarray
    entries: List[Tuple[Any, str]] = []
    for mod in ('numpy._core.multiarray', 'numpy.core.multiarray'):
        entries.append((multiarray._reconstruct, f'{mod}._reconstruct'))
        entries.append((multiarray.scalar, f'{mod}.scalar'))
    entries.append((np.ndarray, 'numpy.ndarray'))
    entries.append((np.dtype, 'numpy.dtype'))
    for t in (np.float16, np.float32, np.float64, np.int8, np.int16, np.int32, np.int64,
              np.uint8, np.bool_):
        cls = type(np.dtype(t))
        entries.append((cls, f'numpy.dtypes.{cls.__name__}'))
    return entries


def mmengine_safe_globals() -> List[Tuple[Any, str]]:
    """The exact allowlist, as ``(object, pickled name)`` pairs for ``add_safe_globals``."""
    return [
        (HistoryBuffer, 'mmengine.logging.history_buffer.HistoryBuffer'),
        (history_buffer_statistic, 'builtins.getattr'),
        (history_buffer_statistic, '__builtin__.getattr'),
    ] + _numpy_globals()


def allow_mmengine_checkpoints() -> None:
    """Register :func:`mmengine_safe_globals` with torch (idempotent; a no-op on old torch)."""
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is None:  # torch < 2.4 has no weights_only default to fix
        return
    registered = {(e if isinstance(e, tuple) else (e, None)) for e in
                  torch.serialization.get_safe_globals()}
    add([e for e in mmengine_safe_globals() if e not in registered])
