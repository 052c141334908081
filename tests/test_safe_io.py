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


def _dying_fdopen(dies):
    """``os.fdopen`` whose file, when ``dies(fd)``, writes half of the bytes and then "dies"
    (KeyboardInterrupt)."""
    real_fdopen = os.fdopen

    def fdopen(fd, mode='r', *args, **kwargs):
        f = real_fdopen(fd, mode, *args, **kwargs)
        if dies(fd):
            def write(data):
                f.__class__.write(f, data[:len(data) // 2])
                raise KeyboardInterrupt
            f.write = write
        return f
    return fdopen


def test_a_writer_killed_mid_save_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    path = str(tmp_path / 'best.pth')
    save_checkpoint(dict(state_dict=dict(w=torch.zeros(2))), path)
    monkeypatch.setattr(safe_io.os, 'fdopen', _dying_fdopen(lambda fd: True))
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(dict(state_dict=dict(w=torch.ones(1000))), path)
    monkeypatch.undo()
    assert torch.equal(_load_checkpoint(path)['state_dict']['w'], torch.zeros(2))
    assert os.listdir(tmp_path) == ['best.pth']


def test_checkpoints_get_the_permissions_of_a_plain_write(tmp_path):
    """0666 less the umask, as torch.save / open() give (mkstemp's 0600 hid checkpoints from
    the others sharing a work dir)."""
    old = os.umask(0o022)
    try:
        path = str(tmp_path / 'iter_1.pth')
        save_checkpoint(dict(state_dict=dict(w=torch.ones(3))), path)
        torch.save(dict(w=torch.ones(3)), str(tmp_path / 'plain.pth'))
    finally:
        os.umask(old)
    assert os.stat(path).st_mode & 0o777 == 0o644
    assert os.stat(path).st_mode & 0o777 == os.stat(tmp_path / 'plain.pth').st_mode & 0o777


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


def _toy_runner(work_dir, scores, save_best='acc', interval=100, max_iters=3, **ckpt):
    """An MMEngine Runner on a 1-parameter model whose validation metric follows ``scores``."""
    from mmengine.evaluator import BaseMetric
    from mmengine.model import BaseModel
    from mmengine.runner import Runner

    class Toy(BaseModel):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def forward(self, inputs, data_samples=None, mode='tensor'):  # noqa: ARG002
            if mode == 'loss':
                return dict(loss=(self.w - 1).pow(2).sum())
            return [dict()] * len(inputs)

    class Score(BaseMetric):
        calls = 0

        def process(self, data_batch, data_samples):
            self.results.append(0)

        def compute_metrics(self, results):
            Score.calls += 1
            return dict(acc=scores[Score.calls - 1])

    data = [dict(inputs=torch.zeros(1))] * 4
    loader = dict(dataset=data, sampler=dict(type='DefaultSampler', shuffle=False),
                  batch_size=2, collate_fn=dict(type='default_collate'))
    return Runner(model=Toy(), work_dir=work_dir, train_dataloader=loader,
                  val_dataloader=loader, val_evaluator=[Score()], val_cfg=dict(),
                  optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
                  train_cfg=dict(by_epoch=False, max_iters=max_iters, val_interval=1),
                  default_hooks=dict(checkpoint=dict(type='mtkit.SafeCheckpointHook',
                                                     by_epoch=False, interval=interval,
                                                     save_best=save_best, rule='greater',
                                                     **ckpt)),
                  default_scope='mmengine')


@pytest.mark.slow
def test_the_previous_best_is_kept_until_the_new_best_is_saved(tmp_path, monkeypatch):
    import glob
    runner = _toy_runner(str(tmp_path), scores=[0.1, 0.5, 0.9])
    real_save = runner.save_checkpoint
    saved = []

    def save(out_dir, filename, *args, **kwargs):
        if filename.startswith('best_'):
            # the old best must still be on disk while the new one is written
            assert [osp.basename(p) for p in glob.glob(osp.join(out_dir, 'best_*'))] == \
                   saved[-1:]
            if filename.endswith('iter_3.pth'):
                raise KeyboardInterrupt  # killed while saving the third best
            saved.append(filename)
        return real_save(out_dir, filename, *args, **kwargs)

    monkeypatch.setattr(runner, 'save_checkpoint', save)
    with pytest.raises(KeyboardInterrupt):
        runner.train()
    assert saved == ['best_acc_iter_1.pth', 'best_acc_iter_2.pth']
    left = [osp.basename(p) for p in glob.glob(str(tmp_path / 'best_*'))]
    assert left == ['best_acc_iter_2.pth']  # a complete best checkpoint survives
    _load_checkpoint(str(tmp_path / 'best_acc_iter_2.pth'))


@pytest.mark.slow
def test_without_save_best_validation_and_saving_run_as_before(tmp_path):
    runner = _toy_runner(str(tmp_path), scores=[0.1, 0.5, 0.9], save_best=None)
    runner.train()
    assert runner.iter == 3 and not glob_best(tmp_path)


def glob_best(folder):
    import glob
    return glob.glob(osp.join(str(folder), 'best_*'))


def _last_checkpoint(folder):
    with open(osp.join(str(folder), 'last_checkpoint')) as f:
        return f.read().strip()


@pytest.mark.slow
@pytest.mark.parametrize('kill_at', ['checkpoint', 'last_checkpoint'])
def test_a_kill_while_saving_leaves_a_checkpoint_to_resume(tmp_path, monkeypatch, kill_at):
    """max_keep_ckpts=1: MMEngine deleted iter_2.pth before writing iter_3.pth, so a run killed
    then had last_checkpoint naming a deleted file. Killed while writing iter_3.pth, or while
    rewriting last_checkpoint, the run leaves last_checkpoint naming a complete iter_2.pth."""
    import glob
    import sys
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
    from mmengine.config import Config
    from tools.train import resume_or_load
    runner = _toy_runner(str(tmp_path), scores=[0.1] * 3, save_best=None, interval=1,
                         max_keep_ckpts=1)
    target = 'iter_3.pth' if kill_at == 'checkpoint' else 'last_checkpoint'

    def dies(fd):  # the temporary file of the target (last_checkpoint: once iter_3 is saved)
        name = osp.basename(os.readlink(f'/proc/self/fd/{fd}'))
        seen = [osp.basename(p) for p in glob.glob(str(tmp_path / '*.pth'))]
        return name.startswith(f'.{target}.') and (target != 'last_checkpoint'
                                                   or 'iter_3.pth' in seen)

    monkeypatch.setattr(safe_io.os, 'fdopen', _dying_fdopen(dies))
    with pytest.raises(KeyboardInterrupt):
        runner.train()
    monkeypatch.undo()
    left = sorted(osp.basename(p) for p in glob.glob(str(tmp_path / '*.pth')))
    assert left == (['iter_2.pth'] if kill_at == 'checkpoint' else ['iter_2.pth', 'iter_3.pth'])
    assert _last_checkpoint(tmp_path) == str(tmp_path / 'iter_2.pth')
    assert not glob.glob(str(tmp_path / '.*.tmp'))
    cfg = Config(dict(work_dir=str(tmp_path), load_from=None))
    resume_or_load(cfg)  # raised FileNotFoundError before
    assert cfg.resume is True
    assert _load_checkpoint(_last_checkpoint(tmp_path))['meta']['iter'] == 2


@pytest.mark.slow
def test_rotation_keeps_max_keep_ckpts_after_a_run(tmp_path):
    import glob
    runner = _toy_runner(str(tmp_path), scores=[0.1] * 4, save_best=None, interval=1,
                         max_keep_ckpts=2, max_iters=4)
    runner.train()
    left = sorted(osp.basename(p) for p in glob.glob(str(tmp_path / '*.pth')))
    assert left == ['iter_3.pth', 'iter_4.pth']
    assert _last_checkpoint(tmp_path) == str(tmp_path / 'iter_4.pth')
