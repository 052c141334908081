"""The TTA source config trains with tools/train.py, and tools/tta.py adapts the trained model
with every configured method over a real (tiny) DigitsC stream."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from conftest import REPO
from helpers import small_run_cfg

CFG = osp.join(REPO, 'configs/tta/source_smallresnet_digitsc.py')


@pytest.fixture(scope='module')
def source_ckpt(tiny_digitsc, tmp_path_factory):
    cfg = Config.fromfile(CFG)
    cfg.data_root = tiny_digitsc
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.data_root = tiny_digitsc
        cfg[key].batch_size = 8
    cfg = small_run_cfg(cfg, str(tmp_path_factory.mktemp('source')), max_iters=2)
    cfg.default_hooks.pop('visualization', None)
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.val_loop.run()
    assert 0.0 <= metrics['cls/accuracy'] <= 100.0
    assert metrics['cls/error'] == pytest.approx(100.0 - metrics['cls/accuracy'])
    return osp.join(cfg.work_dir, 'iter_2.pth')


def tta_config(tiny_digitsc, tmp_path):
    cfg = Config.fromfile(CFG)
    cfg.tta.data_root = tiny_digitsc
    cfg.tta.batch_size = 4
    cfg.tta.source_batches = 13  # all 49 tiny train crops: every class has a prototype
    cfg.tta.source_batch_size = 4
    cfg.tta.methods.cotta.num_aug = 2
    path = str(tmp_path / 'cfg.py')
    cfg.dump(path)
    return path


def run_tta(cfg, ckpt, *args):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([REPO, os.environ['PYTHONPATH']]))
    return subprocess.run([sys.executable, osp.join(REPO, 'tools/tta.py'), cfg, ckpt, *args],
                          capture_output=True, text=True, env=env, cwd=REPO)


@pytest.mark.slow
def test_every_method_runs_the_stream(source_ckpt, tiny_digitsc, tmp_path):
    cfg = tta_config(tiny_digitsc, tmp_path)
    out = str(tmp_path / 'r.json')
    methods = ['source', 'bn', 'tent', 'cotta', 'rmt', 'rmt_replay']
    assert sorted(Config.fromfile(cfg).tta.methods) == sorted(methods)
    proc = run_tta(cfg, source_ckpt, '--method', *methods, '--out', out,
                   '--domains', 'fog-5', 'gaussian_noise-5')
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.load(open(out))
    assert sorted(results) == sorted(methods)
    for res in results.values():
        assert list(res['errors']) == ['fog-5', 'gaussian_noise-5']
        assert all(0.0 <= e <= 100.0 for e in res['errors'].values())
        assert res['images'] == 2 * 10 and res['images_per_s'] > 0
    # the source model is the same for every method: Source and the first BN batch differ



@pytest.mark.slow
def test_reset_setting_and_bad_inputs(source_ckpt, tiny_digitsc, tmp_path):
    cfg = tta_config(tiny_digitsc, tmp_path)
    proc = run_tta(cfg, source_ckpt, '--method', 'tent', '--setting', 'reset', '--out',
                   str(tmp_path / 'r.json'), '--domains', 'fog-1', 'fog-5',
                   '--max-per-domain', '3')
    assert proc.returncode == 0, proc.stderr[-2000:]
    res = json.load(open(tmp_path / 'r.json'))
    assert res['setting'] == 'reset' and res['images'] == 6 and res['max_per_domain'] == 3
    # the errors, in-process (tools/tta.py's main raises them; the run above is the CLI)
    sys.path.insert(0, osp.join(REPO, 'tools'))
    import tta
    out = ['--out', str(tmp_path / 'e.json')]
    with pytest.raises(Exception, match="--method 'tnet' is not in tta.methods"):
        tta.main([cfg, source_ckpt, '--method', 'tnet'] + out)
    # a checkpoint/config class-count mismatch is named
    bad = Config.fromfile(cfg)
    bad.model.num_classes = 7
    bad_path = str(tmp_path / 'bad.py')
    bad.dump(bad_path)
    with pytest.raises(Exception, match=r'its head \(head.weight\) has 10 classes') as err:
        tta.main([bad_path, source_ckpt, '--method', 'source'] + out)
    assert 'num_classes=7' in str(err.value)
    # too few source images for a prototype of every class: the keys to raise are named
    few = Config.fromfile(cfg)
    few.tta.source_batches = 1
    few.tta.source_batch_size = 2
    few_path = str(tmp_path / 'few.py')
    few.dump(few_path)
    with pytest.raises(Exception, match=r'no source samples of class\(es\)') as err:
        tta.main([few_path, source_ckpt, '--method', 'rmt', '--domains', 'fog-5'] + out)
    assert 'tta.source_batches=1' in str(err.value)
    assert 'tta.source_batch_size=2' in str(err.value)


@pytest.mark.slow
def test_a_corrupted_image_file_is_named(source_ckpt, tiny_digitsc, tmp_path):
    import shutil
    root = str(tmp_path / 'digitsc')
    shutil.copytree(tiny_digitsc, root)
    victim = osp.join(root, 'test', 'fog-5', '00001.png')
    with open(victim, 'wb') as f:
        f.write(b'not a png')
    cfg = Config.fromfile(tta_config(tiny_digitsc, tmp_path))
    cfg.tta.data_root = root
    path = str(tmp_path / 'c.py')
    cfg.dump(path)
    proc = run_tta(path, source_ckpt, '--method', 'source', '--domains', 'fog-5')
    assert proc.returncode != 0 and victim in proc.stderr
