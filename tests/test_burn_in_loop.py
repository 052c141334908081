"""BurnInIterBasedTrainLoop: during the burn-in only labeled images are loaded, the labeled
share of each batch is kept, the semi-supervised loader takes over after it; config mistakes
name their key."""
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from conftest import REPO
from helpers import point_digitscenes, small_run_cfg
from mtkit.utils.errors import ConfigKeyError

MT_CFG = osp.join(REPO, 'configs/mean_teacher/mt_yolox-tiny_digitscenes-10pct.py')
SUP_CFG = osp.join(REPO, 'configs/supervised/yolox-tiny_digitscenes-10pct.py')


def mt_cfg(root, work_dir, max_iters, burn_in):
    cfg = small_run_cfg(point_digitscenes(Config.fromfile(MT_CFG), root), work_dir, max_iters,
                        val=False)
    cfg.train_dataloader.batch_size = 4
    cfg.train_dataloader.sampler.batch_size = 4
    cfg.train_dataloader.sampler.source_ratio = [1, 3]  # 1 labeled + 3 unlabeled per batch
    cfg.model.semi_train_cfg.update(burn_in_iters=burn_in, ramp_iters=0)
    cfg.custom_hooks[0].update(begin_iter=burn_in)
    cfg.custom_hooks[1].interval = 1
    return cfg


def test_burn_in_loads_no_unlabeled_views(digitscenes, tmp_path):
    cfg = mt_cfg(digitscenes, str(tmp_path / 'run'), max_iters=3, burn_in=2)
    assert cfg.train_cfg.type == 'mtkit.BurnInIterBasedTrainLoop'
    runner = Runner.from_cfg(cfg)
    loop = runner.train_loop
    labeled, unlabeled = loop.dataloader.dataset.datasets
    fetched = {'labeled': 0, 'unlabeled': 0}

    def counting(ds, key):
        prepare = ds.prepare_data

        def fn(idx):
            fetched[key] += 1
            return prepare(idx)
        return fn

    labeled.prepare_data = counting(labeled, 'labeled')
    unlabeled.prepare_data = counting(unlabeled, 'unlabeled')
    model = runner.model
    seen = []
    loss = model.loss

    def recording(inputs, samples):
        seen.append((fetched['unlabeled'], {k: v.shape[0] for k, v in inputs.items()},
                     model.unsup_weight()))
        return loss(inputs, samples)

    model.loss = recording
    runner.train()
    # burn-in: the labeled share (1 image) alone; no unlabeled image decoded or augmented
    assert seen[0] == (0, {'sup': 1}, 0.0)
    assert seen[1] == (0, {'sup': 1}, 0.0)
    # then the semi-supervised batches: 1 labeled, 3 unlabeled in two views
    assert seen[2] == (3, {'sup': 1, 'unsup_teacher': 3, 'unsup_student': 3}, 1.0)
    assert fetched['unlabeled'] == 3
    assert runner.message_hub.get_scalar('train/unsup_pseudo_per_img') is not None


def test_burn_in_loop_config_errors(digitscenes, tmp_path):
    cfg = mt_cfg(digitscenes, str(tmp_path / 'a'), max_iters=2, burn_in=5)
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ConfigKeyError, match=r'train_cfg.burn_in_iters=7 differs .*'
                                             r'semi_train_cfg.burn_in_iters=5'):
        runner.build_train_loop(dict(type='mtkit.BurnInIterBasedTrainLoop', max_iters=2,
                                     burn_in_iters=7))
    # a plain detector has no burn-in to follow
    sup = small_run_cfg(point_digitscenes(Config.fromfile(SUP_CFG), digitscenes),
                        str(tmp_path / 'b'), 2, val=False)
    sup.train_cfg = dict(type='mtkit.BurnInIterBasedTrainLoop', max_iters=2)
    with pytest.raises(ConfigKeyError, match='needs a teacher-student model'):
        _ = Runner.from_cfg(sup).train_loop
    # a semi-supervised model whose loader is not labeled + unlabeled by source
    cfg = mt_cfg(digitscenes, str(tmp_path / 'c'), max_iters=2, burn_in=5)
    cfg.train_dataloader.sampler = dict(type='InfiniteSampler')
    with pytest.raises(ConfigKeyError, match='ConcatDataset .*multi-source sampler'):
        _ = Runner.from_cfg(cfg).train_loop
