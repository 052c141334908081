"""Checkpoints are written atomically and a damaged one is named when read (mtkit registers
both with MMEngine on import)."""
import os
import os.path as osp

import pytest
import torch
from mmengine.fileio import get_file_backend
from mmengine.runner.checkpoint import _load_checkpoint, save_checkpoint

import mtkit  # noqa: F401  (installs the atomic backend and the loader)
from mtkit.utils import safe_io


def test_mmengine_local_writes_go_through_the_atomic_backend(tmp_path):
    assert isinstance(get_file_backend(str(tmp_path / 'x.pth')), safe_io.AtomicLocalBackend)
    path = str(tmp_path / 'sub' / 'iter_1.pth')
    save_checkpoint(dict(state_dict=dict(w=torch.ones(3))), path)
    assert torch.equal(_load_checkpoint(path)['state_dict']['w'], torch.ones(3))
    assert os.listdir(tmp_path / 'sub') == ['iter_1.pth']  # no temporary file left


def test_a_writer_killed_mid_save_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    path = str(tmp_path / 'best.pth')
    save_checkpoint(dict(state_dict=dict(w=torch.zeros(2))), path)
    real_write = os.fdopen

    def dying_fdopen(fd, mode='r', *args, **kwargs):
        f = real_write(fd, mode, *args, **kwargs)

        def write(data):  # half of the bytes, then the process "dies"
            f.__class__.write(f, data[:len(data) // 2])
            raise KeyboardInterrupt
        f.write = write
        return f

    monkeypatch.setattr(safe_io.os, 'fdopen', dying_fdopen)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(dict(state_dict=dict(w=torch.ones(1000))), path)
    monkeypatch.undo()
    assert torch.equal(_load_checkpoint(path)['state_dict']['w'], torch.zeros(2))
    assert os.listdir(tmp_path) == ['best.pth']


def test_a_truncated_checkpoint_is_named_when_loaded(tmp_path):
    good = str(tmp_path / 'good.pth')
    save_checkpoint(dict(state_dict=dict(w=torch.ones(1000))), good)
    bad = str(tmp_path / 'iter_8.pth')
    with open(good, 'rb') as src, open(bad, 'wb') as dst:
        dst.write(src.read()[:300])
    with pytest.raises(RuntimeError, match=f'checkpoint {bad} \\(300 bytes\\) cannot be read'):
        _load_checkpoint(bad)
    with pytest.raises(FileNotFoundError, match='can not be found'):
        _load_checkpoint(str(tmp_path / 'none.pth'))
    assert osp.isfile(good)


class _Payload:
    def __reduce__(self):
        return (os.system, ('echo pwned > /dev/null', ))


def test_an_unsafe_pickle_is_still_refused_through_the_loader(tmp_path):
    import pickle
    path = str(tmp_path / 'evil.pth')
    torch.save(dict(state_dict=dict(x=_Payload())), path)
    with pytest.raises(pickle.UnpicklingError, match='Weights only load failed'):
        _load_checkpoint(path)
