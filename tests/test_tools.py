"""tools/train.py and tools/test.py as a user runs them (subprocesses, real files)."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.config import Config

from conftest import REPO
from helpers import point_digitscenes, small_run_cfg

DEMO = osp.join(REPO, 'configs/mean_teacher/mt_yolox-tiny_digitscenes-demo.py')


def _run(*args, check=True):
    r = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=REPO)
    if check and r.returncode != 0:
        raise AssertionError(f'{args} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}')
    return r


@pytest.mark.slow
def test_train_resume_and_test(digitscenes, tmp_path):
    cfg = small_run_cfg(point_digitscenes(Config.fromfile(DEMO), digitscenes),
                        str(tmp_path / 'wd'), max_iters=2)
    cfg.train_dataloader.batch_size = 2
    cfg.train_dataloader.sampler.batch_size = 2
    cfg.val_dataloader.batch_size = 6
    cfg.test_dataloader.batch_size = 6
    cfg_file = tmp_path / 'cfg.py'
    cfg.dump(str(cfg_file))
    wd = tmp_path / 'wd'
    _run('tools/train.py', str(cfg_file), '--work-dir', str(wd))
    ckpt = wd / 'iter_2.pth'
    assert ckpt.is_file()
    # resume from the checkpoint and train 1 more iteration
    r = _run('tools/train.py', str(cfg_file), '--work-dir', str(wd), '--resume', str(ckpt),
             '--cfg-options', 'train_cfg.max_iters=3')
    assert 'Advance dataloader 2 steps' in r.stdout + r.stderr  # MMEngine's resume warning
    assert (wd / 'iter_3.pth').is_file()
    out = tmp_path / 'metrics.json'
    _run('tools/test.py', str(cfg_file), str(ckpt), '--work-dir', str(tmp_path / 'test'),
         '--out', str(out))
    metrics = json.loads(out.read_text())
    assert {'teacher/coco/bbox_mAP', 'student/coco/bbox_mAP'} <= set(metrics)


@pytest.mark.slow
def _tool(name):
    """tools/{name}.py as a module (``test`` would otherwise be the standard library's)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(f'mtkit_tool_{name}',
                                                  osp.join(REPO, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_clear_errors_for_missing_files(tmp_path):
    """In-process, through the tools' main(argv) (the slow tests run them as processes)."""
    with pytest.raises(FileNotFoundError, match='config file not found'):
        _tool('train').main([str(tmp_path / 'nope.py')])
    with pytest.raises(FileNotFoundError, match='checkpoint not found'):
        _tool('test').main([DEMO, str(tmp_path / 'nope.pth')])


def test_amp_and_resume_flags():
    sys.path.insert(0, osp.join(REPO, 'tools'))
    import train
    cfg = train.build_cfg(train.parse_args([DEMO, '--amp']))
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.work_dir.endswith('mt_yolox-tiny_digitscenes-demo')


def test_resume_without_a_checkpoint_keeps_load_from(tmp_path, capsys):
    """--resume with nothing to resume starts from the config's load_from, and says so
    (MMEngine alone would drop load_from and train from scratch); with a last_checkpoint it
    resumes; a last_checkpoint naming a missing file is an error naming both."""
    sys.path.insert(0, osp.join(REPO, 'tools'))
    import train
    wd = str(tmp_path / 'wd')
    args = [DEMO, '--resume', '--work-dir', wd, '--cfg-options', 'load_from=start.pth']
    cfg = train.build_cfg(train.parse_args(args))
    assert cfg.resume is False and cfg.load_from == 'start.pth'
    assert f"nothing to resume in {wd} (no last_checkpoint); starting from " \
           f"load_from='start.pth'" in capsys.readouterr().err
    os.makedirs(wd)
    ckpt = tmp_path / 'wd' / 'iter_2.pth'
    with open(osp.join(wd, 'last_checkpoint'), 'w') as f:
        f.write(str(ckpt))
    with pytest.raises(FileNotFoundError, match=f"names '{ckpt}', which does not exist"):
        train.build_cfg(train.parse_args(args))
    ckpt.write_bytes(b'')
    cfg = train.build_cfg(train.parse_args(args))
    assert cfg.resume is True and cfg.load_from is None  # MMEngine reads last_checkpoint
    with pytest.raises(FileNotFoundError, match='--resume checkpoint not found'):
        train.build_cfg(train.parse_args([DEMO, '--resume', '/no/such.pth']))


@pytest.mark.slow
def test_train_and_test_an_mmseg_config(digitscenes, tmp_path):
    from helpers import replace_strings
    seg = osp.join(REPO, 'configs/supervised/fcn-r18-d8_digitscenes-seg.py')
    raw = replace_strings(Config.fromfile(seg)._cfg_dict.to_dict(),
                          'data/digitscenes/cityscapes/',
                          osp.join(digitscenes, 'cityscapes') + '/')
    cfg = small_run_cfg(Config(raw), str(tmp_path / 'wd'), max_iters=2)
    cfg.default_hooks.visualization = dict(type='SegVisualizationHook', draw=False)
    cfg.train_dataloader.batch_size = 2
    cfg_file = tmp_path / 'seg.py'
    cfg.dump(str(cfg_file))
    _run('tools/train.py', str(cfg_file), '--work-dir', str(tmp_path / 'wd'))
    out = tmp_path / 'seg_metrics.json'
    _run('tools/test.py', str(cfg_file), str(tmp_path / 'wd' / 'iter_2.pth'),
         '--work-dir', str(tmp_path / 'test'), '--out', str(out))
    assert 'mIoU' in json.loads(out.read_text())
