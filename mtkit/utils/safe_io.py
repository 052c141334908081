"""Checkpoints that are never half-written, and damaged ones named when read.

* :class:`AtomicLocalBackend` replaces MMEngine's ``local`` file backend: ``put`` writes a
  temporary file next to the target, flushes it to disk and moves it into place with
  ``os.replace`` (atomic on POSIX and Windows). A run killed while saving leaves the previous
  file at that path (or none), never a truncated one; the temporary file is removed on any
  error. Every MMEngine local write (checkpoints, ``last_checkpoint``) goes through it.
* :func:`load_local_checkpoint` replaces MMEngine's loader of local paths: a file that
  ``torch.load`` cannot read (truncated, not a checkpoint) raises an error that names the file;
  ``weights_only`` refusals of unsafe pickles pass through unchanged.
"""
import os
import os.path as osp
import pickle
import secrets
from pathlib import Path
from typing import Union

import torch
from mmengine.fileio.backends import LocalBackend, register_backend
from mmengine.runner.checkpoint import CheckpointLoader


class AtomicLocalBackend(LocalBackend):
    """MMEngine's local backend with atomic ``put`` / ``put_text``."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        atomic_write(bytes(obj), str(filepath))

    def put_text(self, obj: str, filepath: Union[str, Path], encoding: str = 'utf-8') -> None:
        atomic_write(obj.encode(encoding), str(filepath))


def atomic_write(data: bytes, filepath: str) -> None:
    """Write ``data`` to ``filepath`` through a temporary file and ``os.replace``. The file
    gets the permissions a plain ``open(filepath, 'wb')`` would give it (0666 less the umask;
    ``tempfile.mkstemp`` would make it 0600, unreadable to others sharing a work dir)."""
    folder = osp.dirname(osp.abspath(filepath))
    os.makedirs(folder, exist_ok=True)
    while True:
        tmp = osp.join(folder, f'.{osp.basename(filepath)}.{secrets.token_hex(6)}.tmp')
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, 'O_BINARY', 0),
                         0o666)
            break
        except FileExistsError:  # another writer's temporary file: draw another name
            continue
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, filepath)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def load_local_checkpoint(filename: str, map_location=None):
    """MMEngine's local loader (same defaults, ``weights_only`` as torch decides), with the
    file named when it cannot be read."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    try:
        return torch.load(filename, map_location=map_location)
    except pickle.UnpicklingError:
        raise  # weights_only refused an unsafe pickle: torch's message says why
    except (RuntimeError, EOFError, OSError) as e:
        raise RuntimeError(f'checkpoint {filename} ({osp.getsize(filename)} bytes) cannot be '
                           f'read: {e}. It may be truncated (a run killed while saving with '
                           f'an older mtkit) or not a checkpoint; resume from another one') from e


def install_safe_checkpoint_io() -> None:
    """Register both with MMEngine (idempotent)."""
    from mmengine.fileio import io as mmengine_io
    register_backend('local', AtomicLocalBackend, force=True, prefixes='')
    for key, backend in list(mmengine_io.backend_instances.items()):
        if type(backend) is LocalBackend:  # made before this call: drop, so it is remade
            del mmengine_io.backend_instances[key]
    CheckpointLoader.register_scheme(prefixes='', loader=load_local_checkpoint, force=True)
