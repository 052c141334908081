"""The converged-start recipe of docs/detection.md: a supervised run's plain detector checkpoint
fills the mean teacher's teacher and student (load_from), then the semi-supervised phase
trains from it with the teacher labelling from the first iterations."""
import os.path as osp

import torch
from mmengine.config import Config
from mmengine.runner import Runner

from conftest import REPO
from helpers import point_digitscenes, small_run_cfg


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
