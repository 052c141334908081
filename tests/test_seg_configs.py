"""Shipped segmentation configs on tiny generated data in the Cityscapes layout.

Every config builds its model and training data (so every split list it names exists). Each
distinct (method, model) -- every DigitScenes config, and each method's DeepLabV3+-R50 1/16
Cityscapes config -- also trains 2 iterations and validates with
mmseg's IoUMetric (one with CityscapesMetric). The other Cityscapes configs differ from these
only by the split list and the backbone depth (checked when they build), and training each
DeepLabV3+ on CPU costs 10-45 s.
"""
import glob
import os.path as osp
import re

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from conftest import REPO
from helpers import replace_strings, small_run_cfg

ALL = sorted(glob.glob(osp.join(REPO, 'configs', '*', '*.py')))
# (the clip configs of configs/stable_teacher have their own test: test_stable_teacher_configs;
# the domain adaptation configs of configs/uda read DigitScenes-UDA: test_uda.py)
SEG = [c for c in ALL if '_base_' not in c and 'stable_teacher' not in c
       and osp.basename(osp.dirname(c)) != 'uda' and Config.fromfile(c).default_scope == 'mmseg']
#: Cityscapes sizes -> tiny-data sizes (the tiny images are 64 x 64)
SIZES = {(2048, 1024): (128, 64), (512, 1024): (64, 64), (128, 128): (64, 64)}


def shrink(obj):
    if isinstance(obj, dict):
        return type(obj)({k: shrink(v) for k, v in obj.items()})
    if isinstance(obj, (list, tuple)):
        if len(obj) == 2 and all(isinstance(v, int) for v in obj) and tuple(obj) in SIZES:
            return SIZES[tuple(obj)]
        return type(obj)(shrink(v) for v in obj)
    return obj


def tiny_cfg(path, digitscenes, cityscapes, work_dir, max_iters=2):
    raw = Config.fromfile(path)._cfg_dict.to_dict()
    raw = replace_strings(raw, 'data/digitscenes/cityscapes/',
                          osp.join(digitscenes, 'cityscapes') + '/')
    raw = replace_strings(raw, 'data/cityscapes/', cityscapes + '/')
    cfg = small_run_cfg(Config(shrink(raw)), work_dir, max_iters=max_iters)
    cfg.default_hooks.visualization = dict(type='SegVisualizationHook', draw=False)
    cfg.train_dataloader.batch_size = 2  # ASPP's image pooling needs 2 images for its BN
    for key in ('val_dataloader', 'test_dataloader'):
        cfg[key].batch_size = 2
        cfg[key].dataset.indices = 2
    seg = cfg.model.get('segmentor', cfg.model)
    seg.pretrained = None  # no pretrained weights are reachable here
    if 'semi_train_cfg' in cfg.model and cfg.model.semi_train_cfg.get('pseudo_filters') is None:
        cfg.model.semi_train_cfg.pseudo_thr = 0.0  # exercise the unsupervised loss
    for hook in cfg.get('custom_hooks', []):
        if hook['type'] == 'mtkit.PseudoLabelDiagnosticsHook':
            hook['interval'] = 1  # log within the test's few iterations
    return cfg


def test_every_seg_config_is_covered():
    names = {osp.basename(c) for c in SEG}
    for method, prefix in (('supervised', ''), ('mean_teacher', 'mt_'), ('dual_teacher', 'dt_')):
        for d in (50, 101):
            for f in ('1_16', '1_8', '1_4', '1_2'):
                assert f'{prefix}deeplabv3plus-r{d}-d8_cityscapes-{f}.py' in names
        for f in ('1_16', '1_8'):
            assert f'{prefix}fcn-r18-d8_digitscenes-seg-{f}.py' in names


# (the CPU-sized *-plateau / *-converged configs train in test_converged_start.py)
TRAINED = [c for c in SEG if ('digitscenes' in c or c.endswith('r50-d8_cityscapes-1_16.py'))
           and not c.endswith(('-plateau.py', '-converged.py'))]


# building a DeepLabV3+-R50/R101 costs seconds each: the Cityscapes builds run in make test only
@pytest.mark.parametrize('path', [
    pytest.param(c, marks=pytest.mark.slow) if 'cityscapes' in c else c for c in SEG],
    ids=[osp.basename(c)[:-3] for c in SEG])
def test_seg_config_builds(path, digitscenes, tiny_cityscapes):
    from mmengine.registry import DefaultScope

    from mtkit.registry import DATASETS, MODELS
    cfg = tiny_cfg(path, digitscenes, tiny_cityscapes, '/tmp/unused')
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(cfg.model)
        data = DATASETS.build(cfg.train_dataloader.dataset)
    depth = 101 if 'r101' in path else 50 if 'r50' in path else 18
    student = getattr(model, 'student', model)
    assert student.backbone.depth == depth
    # e.g. 1_16 in ...-1_16.py, ...-1_8-converged.py; the full-label reference has none
    fraction = re.search(r'-(1_\d+)(-[a-z]+)?\.py$', path)
    fraction = fraction.group(1) if fraction else ''
    labeled = data.labeled if hasattr(data, 'labeled') else data
    if not fraction.startswith('1_'):  # the fully supervised reference uses all of train
        assert not labeled.ann_file and len(labeled) > 0
        return
    assert labeled.ann_file.endswith(f'@{fraction}.txt')
    with open(labeled.ann_file) as f:
        assert len(labeled) == len(f.read().split())
    if hasattr(data, 'unlabeled'):
        assert data.unlabeled.ann_file.endswith(f'@{fraction}-unlabeled.txt')
        assert len(data) == max(len(data.labeled), len(data.unlabeled))


@pytest.mark.slow
@pytest.mark.parametrize('path', TRAINED, ids=[osp.basename(c)[:-3] for c in TRAINED])
def test_seg_config_trains_and_evaluates(path, digitscenes, tiny_cityscapes, tmp_path):
    cfg = tiny_cfg(path, digitscenes, tiny_cityscapes, str(tmp_path))
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 2
    metrics = runner.val_loop.run()
    semi = 'semi_train_cfg' in cfg.model
    keys = [f'{m}/mIoU' for m in cfg.val_cfg.predict_on] if semi else ['mIoU']
    if 'digitscenes' in osp.basename(path):  # the digit-only mIoU beside it
        keys += [k.replace('mIoU', 'fg_mIoU') for k in keys]
    for key in keys:
        assert 0.0 <= metrics[key] <= 100.0, key
    if semi:
        hub = runner.message_hub
        assert hub.get_scalar('train/pseudo/kept_share').current() > 0  # the diagnostics hook
        assert hub.get_scalar('train/unsup_loss_seg').current() > 0


@pytest.mark.slow
def test_cityscapes_metric_on_a_semi_supervised_config(digitscenes, tiny_cityscapes, tmp_path):
    path = osp.join(REPO, 'configs/mean_teacher/mt_deeplabv3plus-r50-d8_cityscapes-1_16.py')
    cfg = tiny_cfg(path, digitscenes, tiny_cityscapes, str(tmp_path), max_iters=1)
    cfg.val_evaluator = dict(type='CityscapesMetric', output_dir=str(tmp_path / 'format'))
    cfg.default_hooks.checkpoint.save_best = 'teacher/averageScoreCategories'
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.val_loop.run()
    for m in ('teacher', 'student'):
        assert 0.0 <= metrics[f'{m}/averageScoreCategories'] <= 1.0, metrics
