"""The converged-start recipe (docs/detection.md, docs/segmentation.md): a supervised run's plain
detector / segmentor checkpoint fills the teachers and the student (load_from), then the
semi-supervised phase trains from it with the teacher labelling from the first iterations."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from conftest import REPO
from helpers import point_digitscenes, replace_strings, small_run_cfg


@pytest.mark.slow
def test_supervised_checkpoint_starts_the_mean_teacher(digitscenes, tmp_path):
    sup = point_digitscenes(Config.fromfile(osp.join(
        REPO, 'configs/supervised/yolox-tiny_digitscenes-10pct-plateau.py')), digitscenes)
    sup = small_run_cfg(sup, str(tmp_path / 'sup'), max_iters=2, val=False)
    sup.train_dataloader.batch_size = 2
    runner = Runner.from_cfg(sup)
    runner.train()
    ckpt = osp.join(str(tmp_path / 'sup'), 'iter_2.pth')
    plain = torch.load(ckpt, map_location='cpu', weights_only=True)['state_dict']
    assert not any(k.startswith(('teacher.', 'student.')) for k in plain)

    mt = point_digitscenes(Config.fromfile(osp.join(
        REPO, 'configs/mean_teacher/mt_yolox-tiny_digitscenes-10pct-converged.py')), digitscenes)
    assert mt.load_from.endswith('sup_plateau_10pct/iter_5000.pth')
    assert mt.model.semi_train_cfg.burn_in_iters == 0
    mt = small_run_cfg(mt, str(tmp_path / 'mt'), max_iters=2, val=False)
    mt.load_from = ckpt
    mt.train_dataloader.batch_size = 2
    mt.train_dataloader.sampler.update(batch_size=2, source_ratio=[1, 1])
    runner = Runner.from_cfg(mt)
    runner.load_or_resume()
    model = runner.model
    for name in ('teacher', 'student'):
        state = getattr(model, name).state_dict()
        for key, value in plain.items():
            torch.testing.assert_close(state[key], value, msg=f'{name}.{key}')
    runner.train()
    hub = runner.message_hub
    assert hub.get_scalar('train/unsup_weight').current() > 0  # no burn-in: it labels at once
    assert 'train/unsup_loss_obj' in hub.log_scalars


def seg_cfg(name, root, work_dir):
    raw = replace_strings(Config.fromfile(osp.join(REPO, 'configs', name))._cfg_dict.to_dict(),
                          'data/digitscenes/cityscapes/', osp.join(root, 'cityscapes') + '/')
    cfg = small_run_cfg(Config(raw), work_dir, max_iters=2, val=False)
    cfg.default_hooks.visualization = dict(type='SegVisualizationHook', draw=False)
    cfg.train_dataloader.batch_size = 2
    return cfg


@pytest.mark.slow
def test_supervised_segmentor_checkpoint_starts_every_seg_arm(digitscenes, tmp_path):
    """The CPU-sized DigitScenes-seg protocol: the 1/8 plateau config's plain checkpoint fills
    the student and every teacher of the mean teacher, Dual Teacher and consensus arms, which
    then train (pseudo labels from the first iteration) with the same narrow FCN."""
    runner = Runner.from_cfg(seg_cfg('supervised/fcn-r18w16-d8_digitscenes-seg-1_8-plateau.py',
                                     digitscenes, str(tmp_path / 'sup')))
    assert runner.model.backbone.base_channels == 16
    runner.train()
    ckpt = osp.join(str(tmp_path / 'sup'), 'iter_2.pth')
    plain = torch.load(ckpt, map_location='cpu', weights_only=True)['state_dict']
    arms = {'mean_teacher/mt_fcn-r18w16-d8_digitscenes-seg-1_8-converged.py': ('teacher', ),
            'mean_teacher/mt-consensus_fcn-r18w16-d8_digitscenes-seg-1_8-converged.py':
                ('teacher', 'teacher2'),
            'dual_teacher/dt_fcn-r18w16-d8_digitscenes-seg-1_8-converged.py':
                ('teacher', 'teacher2')}
    for name, teachers in arms.items():
        cfg = seg_cfg(name, digitscenes, str(tmp_path / osp.basename(name)[:-3]))
        assert cfg.load_from == 'work_dirs/seg_converged/sup1_8_s0/iter_8000.pth'
        assert cfg.model.semi_train_cfg.burn_in_iters == 0
        cfg.load_from = ckpt
        if cfg.model.semi_train_cfg.get('pseudo_filters') is None:
            cfg.model.semi_train_cfg.pseudo_thr = 0.0  # the 2-iteration model is not confident
        if 'consensus' in name:
            cfg.model.semi_train_cfg.pseudo_filters[0].dense_thr = 0.0
        runner = Runner.from_cfg(cfg)
        runner.load_or_resume()
        for model in ('student', ) + teachers:
            state = getattr(runner.model, model).state_dict()
            for key, value in plain.items():
                torch.testing.assert_close(state[key], value, msg=f'{name}: {model}.{key}')
        runner.train()
        assert runner.message_hub.get_scalar('train/unsup_loss_seg').current() > 0, name


def test_the_threshold_lever_differs_from_the_mean_teacher_only_by_its_threshold():
    def cfg(name):
        return Config.fromfile(osp.join(REPO, 'configs/mean_teacher', name)).to_dict()
    base = cfg('mt_fcn-r18w16-d8_digitscenes-seg-1_8-converged.py')
    lever = cfg('mt-thr0.8_fcn-r18w16-d8_digitscenes-seg-1_8-converged.py')
    assert base['model']['semi_train_cfg'].pop('pseudo_thr') == 0.95
    assert lever['model']['semi_train_cfg'].pop('pseudo_thr') == 0.8
    assert lever == base
