"""The shipped Stable Mean Teacher configs train 2 iterations from tools/train.py's Runner on a
tiny MovingDigits and validate teacher and student with ClipSegMetric; the clip metric and the
loss terms of each variant are checked."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from mtkit.utils.errors import ConfigKeyError

from conftest import REPO
from helpers import replace_strings, small_run_cfg

SMT = osp.join(REPO, 'configs/stable_teacher/smt_fcn-r18_moving-digits-10pct.py')
CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs', 'stable_teacher', '*.py')))
#: loss terms each variant must log
_BASE = {'sup_loss_seg', 'unsup_loss_cons'}
TERMS = {'sup': _BASE, 'mt': _BASE, 'smt-dop': _BASE, 'smt-eor': _BASE | {'sup_loss_eor'},
         'smt': _BASE | {'sup_loss_eor'}}


@pytest.fixture(scope='module')
def tiny_moving_digits(tmp_path_factory):
    from mtkit.generate import MovingDigitsConfig, generate_moving_digits
    root = str(tmp_path_factory.mktemp('moving_digits'))
    generate_moving_digits(root, MovingDigitsConfig(num_clips=dict(train=10, val=2, test=2),
                                                    frames=4, img_size=64))
    return root


def tiny(path, root, work_dir):
    raw = replace_strings(Config.fromfile(path)._cfg_dict.to_dict(), 'data/moving_digits/',
                          root + '/')
    cfg = small_run_cfg(Config(raw), work_dir, max_iters=2)
    if osp.basename(path).endswith('-converged.py'):
        assert cfg.load_from == 'work_dirs/video_converged/plateau_s0/iter_8000.pth'
        cfg.load_from = None  # the supervised checkpoint: test_plain_checkpoint_fills_... below
    cfg.default_hooks.visualization = dict(type='SegVisualizationHook', draw=False)
    cfg.model.semi_train_cfg.ramp_iters = 0  # the consistency at full weight from iteration 0
    for key in ('val_dataloader', 'test_dataloader'):
        cfg[key].batch_size = 2
    for hook in cfg.custom_hooks:
        if hook['type'] == 'mtkit.PseudoLabelDiagnosticsHook':
            hook['interval'] = 1  # log within the test's 2 iterations
    return cfg


def test_every_variant_is_shipped():
    """Each variant from scratch and from the converged supervised start."""
    names = sorted(osp.basename(c).split('_')[0] for c in CONFIGS)
    assert names == sorted(list(TERMS) * 2)
    for v in TERMS:
        assert osp.isfile(osp.join(REPO, 'configs/stable_teacher',
                                   f'{v}_fcn-r18_moving-digits-10pct-converged.py'))


def test_plain_checkpoint_fills_student_and_teacher():
    """load_from a plain per-frame segmentor fills the student and the teacher of the stable
    mean teacher (the EoR modules keep their own initialisation); a wrapper's own state dict
    loads as it is."""
    from mmengine.registry import DefaultScope

    from mtkit.registry import MODELS
    cfg = Config.fromfile(SMT)
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmseg'):
        plain = MODELS.build(cfg.model.segmentor)
        model = MODELS.build(cfg.model)
    eor_before = {k: v.clone() for k, v in model.eor.state_dict().items()}
    missing, unexpected = model.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and all(k.startswith(('eor.', 'eor_teacher.')) for k in missing)
    for name in ('student', 'teacher'):
        state = getattr(model, name).state_dict()
        for k, v in plain.state_dict().items():
            assert torch.equal(state[k], v), f'{name}.{k}'
    for k, v in model.eor.state_dict().items():
        assert torch.equal(v, eor_before[k])
    with torch.no_grad():
        model.teacher.decode_head.conv_seg.bias.add_(1.0)
    own = {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(own)  # a wrapper checkpoint: teacher and student stay distinct
    assert not torch.equal(model.teacher.decode_head.conv_seg.bias,
                           model.student.decode_head.conv_seg.bias)


@pytest.mark.slow
@pytest.mark.parametrize('path', CONFIGS, ids=[osp.basename(c) for c in CONFIGS])
def test_config_trains_and_validates(path, tiny_moving_digits, tmp_path):
    variant = osp.basename(path).split('_')[0]
    cfg = tiny(path, tiny_moving_digits, str(tmp_path))
    runner = Runner.from_cfg(cfg)
    logged = []

    from mmengine.hooks import Hook

    class Keep(Hook):
        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            logged.append(outputs)

    runner.register_hook(Keep(), priority='LOWEST')
    runner.train()
    keys = {k for k in logged[-1] if '_loss_' in k}  # sup_* and unsup_* terms
    assert keys == TERMS[variant]
    assert all(torch.isfinite(v) for v in logged[-1].values())
    if variant == 'sup':
        assert float(logged[-1]['unsup_loss_cons']) == 0.0
    else:
        assert float(logged[-1]['unsup_loss_cons']) > 0.0
    metrics = runner.val_loop.run()
    for who in ('teacher', 'student'):
        assert 0.0 <= metrics[f'{who}/clip/mIoU'] <= 100.0
        assert 0.0 <= metrics[f'{who}/clip/flicker'] <= 100.0
    model = runner.model
    assert hasattr(model, 'eor') == (variant in ('smt', 'smt-eor'))
    if variant == 'smt':  # the EoR module is no predictor: evaluating it is a config error
        runner.val_loop.predict_on = ['teacher', 'eor']
        with pytest.raises(ConfigKeyError, match=r"predict_on names \['eor'\], which "
                                                 r"StableMeanTeacherSegmentor cannot predict "
                                                 r"with \(it has \['student', 'teacher'\]\)"):
            runner.val_loop.run()
    # the one diagnostics channel: the teacher's accuracy on the labeled frames
    if variant != 'sup':
        assert 0.0 <= runner.message_hub.get_scalar('train/pseudo/accuracy').current() <= 1.0


def test_clip_metric_by_hand():
    from mtkit.evaluation import ClipSegMetric
    metric = ClipSegMetric(num_classes=2)
    gt = torch.tensor([[[0, 1]], [[0, 1]], [[0, 0]]])      # (T=3, 1, 2)
    pred = torch.tensor([[[0, 1]], [[1, 1]], [[0, 0]]])
    sample = dict(pred_sem_seg=dict(data=pred), gt_sem_seg=dict(data=gt))
    metric.process(None, [sample])
    res = metric.compute_metrics(metric.results)
    # class 0: inter 3 (f0 p0, f2 p0 p1), union 4; class 1: inter 2, union 3
    assert res['mIoU'] == pytest.approx(100 * (3 / 4 + 2 / 3) / 2)
    assert res['clip_mIoU'] == pytest.approx(res['mIoU'])
    # f0->f1: gt static on both pixels, pred changes on pixel 0: 1/2; f1->f2: gt static on
    # pixel 0 only, pred changes there: 1/1
    assert res['flicker'] == pytest.approx(100 * (0.5 + 1.0) / 2)
    # foreground (class 1) only: IoU 2/3; the one pixel labeled 1 in two consecutive frames
    # (pixel 1, f0->f1) keeps its prediction: fg_flicker 0 of 1
    assert res['fg_mIoU'] == pytest.approx(100 * 2 / 3)
    assert res['fg_flicker'] == 0.0
    metric = ClipSegMetric(num_classes=2, background_classes=())
    metric.process(None, [sample])
    res = metric.compute_metrics(metric.results)
    assert res['fg_mIoU'] == pytest.approx(res['mIoU'])
    # every static pixel counts: 2 changed (f0->f1 pixel 0, f1->f2 pixel 0) of 3
    assert res['fg_flicker'] == pytest.approx(100 * 2 / 3)
    with pytest.raises(ValueError, match=r'background_classes \[2\] are not class indices'):
        ClipSegMetric(num_classes=2, background_classes=(2, )).process(None, [sample])
    with pytest.raises(ValueError, match=r'\(T, H, W\)'):
        metric.process(None, [dict(pred_sem_seg=dict(data=pred[0]), gt_sem_seg=dict(data=gt))])


def test_model_errors_name_the_key():
    from mmengine.registry import DefaultScope

    from mtkit.registry import MODELS
    from mtkit.utils.errors import ConfigKeyError
    cfg = Config.fromfile(SMT)
    # mmseg's scope, whichever test ran before in this process (pytest-xdist)
    with DefaultScope.overwrite_default_scope('mmseg'):
        bad = dict(cfg.model, eor=None)
        with pytest.raises(ConfigKeyError, match='use_eor needs an eor'):
            MODELS.build(bad)
        bad = dict(cfg.model, semi_train_cfg=dict(cfg.model.semi_train_cfg, consistensy=1.0))
        with pytest.raises(ConfigKeyError, match='consistensy'):
            MODELS.build(bad)


def test_loss_terms_wire_the_right_gradients(tiny_moving_digits):
    """The EoR loss trains the EoR only (the student's probabilities are detached); the
    consistency trains the student only (teacher and EoR teacher are constants); without DoP and
    EoR the consistency is w * MSE(S, T) of the clip probabilities."""
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import DefaultScope

    from mtkit.datasets import SemiClipDataset
    from mtkit.losses import dop_loss
    from mtkit.registry import MODELS
    cfg = Config.fromfile(SMT)
    cfg.model.semi_train_cfg.ramp_iters = 0
    ds_cfg = replace_strings(cfg.train_dataloader.dataset.to_dict(), 'data/moving_digits/',
                             tiny_moving_digits + '/')
    with DefaultScope.overwrite_default_scope('mmseg'):
        ds = SemiClipDataset(ds_cfg['labeled'], ds_cfg['unlabeled'])
        torch.manual_seed(0)
        model = MODELS.build(cfg.model)
    batch = model.data_preprocessor(pseudo_collate([ds[0], ds[1]]), True)
    losses = model.loss(batch['inputs'], batch['data_samples'])
    assert float(losses['unsup_weight']) == pytest.approx(0.1)
    # the EoR starts as the identity: its logged cross-entropy gain is 0
    assert abs(float(losses['sup_eor_ce_gain'])) < 1e-4
    losses['sup_loss_eor'].backward(retain_graph=True)
    assert all(p.grad is None for p in model.student.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.eor.parameters())
    model.zero_grad(set_to_none=True)
    losses['unsup_loss_cons'].backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.student.parameters())
    assert all(p.grad is None for p in model.eor.parameters())
    assert all(p.grad is None for p in model.teacher.parameters())
    # plain MT: w * MSE(S, T), recomputed from the same noise draw
    cfg.model.semi_train_cfg.update(use_dop=False, use_eor=False)
    with DefaultScope.overwrite_default_scope('mmseg'):
        torch.manual_seed(0)
        mt = MODELS.build(cfg.model)
    mt.eval()  # no dropout: the student's output is a function of its input
    x = torch.cat([batch['inputs']['sup'], batch['inputs']['unsup']])
    torch.manual_seed(1)
    got = mt.loss(batch['inputs'], batch['data_samples'])['unsup_loss_cons']
    torch.manual_seed(1)
    noisy = x + 0.1 * torch.randn_like(x)
    with torch.no_grad():
        s = mt._logits(mt.student, noisy).softmax(1).view(4, -1, 11, 64, 64)
        t = mt._logits(mt.teacher, x).softmax(1).view(4, -1, 11, 64, 64)
    assert float(got) == pytest.approx(float(dop_loss(s, t, weight=0.1, temporal=False)),
                                       rel=1e-4)
    assert float(got) == pytest.approx(0.1 * float(((s - t) ** 2).mean()), rel=1e-4)
