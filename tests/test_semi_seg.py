"""MeanTeacherSegmentor and DualTeacherHook on real mmseg models, datasets and Runners."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from conftest import REPO
from helpers import replace_strings, small_run_cfg
from mtkit.registry import DATASETS, MODELS
from mtkit.utils.errors import ConfigKeyError

MT_SEG = osp.join(REPO, 'configs/mean_teacher/mt_fcn-r18-d8_digitscenes-seg-1_8.py')
DT_SEG = osp.join(REPO, 'configs/dual_teacher/dt_fcn-r18-d8_digitscenes-seg-1_8.py')
MT_DET = osp.join(REPO, 'configs/mean_teacher/mt_yolox-tiny_digitscenes-10pct.py')


def seg_cfg(path, root, work_dir, max_iters, val=False):
    raw = replace_strings(Config.fromfile(path)._cfg_dict.to_dict(),
                          'data/digitscenes/cityscapes/', osp.join(root, 'cityscapes') + '/')
    cfg = small_run_cfg(Config(raw), work_dir, max_iters, val=val)
    cfg.default_hooks.visualization = dict(type='SegVisualizationHook', draw=False)
    cfg.train_dataloader.batch_size = 2
    cfg.randomness = dict(seed=5, deterministic=False)
    return cfg


@pytest.fixture(scope='module')
def seg_batch(digitscenes):
    """A preprocessed 2-image training batch with the sup / weak / strong branches."""
    import numpy as np
    cfg = seg_cfg(MT_SEG, digitscenes, '/tmp/unused', 1)
    state = np.random.get_state()
    np.random.seed(0)  # the random transforms (and the albumentations seeds) draw from it
    try:
        with DefaultScope.overwrite_default_scope('mmseg'):
            ds = DATASETS.build(cfg.train_dataloader.dataset)
            data = pseudo_collate([ds[0], ds[1]])
    finally:
        np.random.set_state(state)
    return cfg, data


def build_model(cfg, **train_cfg):
    model_cfg = copy.deepcopy(cfg.model)
    if train_cfg.get('pseudo_filters') is not None:
        train_cfg.setdefault('pseudo_thr', None)  # the config's shorthand would be ignored
    model_cfg.semi_train_cfg.update(train_cfg)
    with DefaultScope.overwrite_default_scope('mmseg'):
        return MODELS.build(model_cfg)


def losses_of(model, data, it=10):
    """The losses of one step, with the step's pseudo-label summary (the diagnostics channel:
    ``pseudo/kept_share``, ``pseudo/accuracy``) added under ``pseudo/...``."""
    model.set_train_iter(it)
    batch = model.data_preprocessor(copy.deepcopy(data), True)
    losses = model.loss(batch['inputs'], batch['data_samples'])
    losses.update({k: torch.tensor(v) for k, v in model.pseudo_label_scalars().items()})
    return losses


def test_dataset_pairs_labeled_and_aligned_weak_strong_views(seg_batch):
    _, data = seg_batch
    assert set(data['inputs']) == {'sup', 'weak', 'strong'}
    weak, strong = data['data_samples']['weak'][0], data['data_samples']['strong'][0]
    assert weak.img_path == strong.img_path  # two views of one image
    assert weak.img_shape == strong.img_shape  # same geometry: aligned pixel for pixel
    # the strong (photometric) view is not the weak one
    assert any(not torch.equal(w, s) for w, s in zip(data['inputs']['weak'],
                                                     data['inputs']['strong']))



def test_an_empty_side_is_an_error_naming_its_list(digitscenes, tmp_path):
    from mtkit.utils.errors import ConfigKeyError
    cfg = seg_cfg(MT_SEG, digitscenes, '/tmp/unused', 1)
    empty = tmp_path / 'empty.txt'
    empty.write_text('')
    ds_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    ds_cfg.unlabeled.ann_file = str(empty)
    # (checked before MMEngine's serialize_data=True would fail with numpy's message)
    with DefaultScope.overwrite_default_scope('mmseg'), pytest.raises(
            ConfigKeyError, match=f"SemiSegDataset: the unlabeled dataset is empty \\('{empty}' "
                                  f"lists no image"):
        DATASETS.build(ds_cfg)
    ds_cfg.unlabeled.serialize_data = False  # a built dataset of length 0: the base check
    ds_cfg.unlabeled.ann_file = str(empty)
    from mtkit.datasets.paired import LabeledUnlabeledPairs
    with DefaultScope.overwrite_default_scope('mmseg'), pytest.raises(
            ConfigKeyError, match="LabeledUnlabeledPairs: the unlabeled dataset is empty"):
        LabeledUnlabeledPairs(ds_cfg.labeled, ds_cfg.unlabeled)

def test_a_split_without_list_or_overlapping_splits_are_errors(digitscenes):
    """A labeled split with ann_file='' would be the whole folder (the unlabeled images and
    their labels included); an image in both splits is an error unless allow_overlap."""
    cfg = seg_cfg(MT_SEG, digitscenes, '/tmp/unused', 1)
    ds_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    ds_cfg.labeled.ann_file = ''
    with DefaultScope.overwrite_default_scope('mmseg'), pytest.raises(
            ConfigKeyError, match='the labeled dataset has no ann_file; mmseg would then take '
                                  'every image of its folder'):
        DATASETS.build(ds_cfg)
    ds_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    ds_cfg.unlabeled.ann_file = ds_cfg.labeled.ann_file
    with DefaultScope.overwrite_default_scope('mmseg'):
        n = len(DATASETS.build(ds_cfg.labeled))
        with pytest.raises(ConfigKeyError, match=f'{n} image\\(s\\) are in both the labeled'):
            DATASETS.build(ds_cfg)
        ds_cfg.allow_overlap = True
        assert len(DATASETS.build(ds_cfg)) == n


def test_segmentor_losses_train_the_student_only(seg_batch):
    cfg, data = seg_batch
    torch.manual_seed(0)
    model = build_model(cfg, pseudo_thr=0.0, mix='classmix')
    model.teacher.load_state_dict(model.student.state_dict())
    losses = losses_of(model, data)
    assert {'sup_decode.loss_ce', 'unsup_loss_seg', 'pseudo/kept_share', 'unsup_weight',
            'pseudo/accuracy'} <= set(losses)
    assert losses['pseudo/kept_share'].item() == pytest.approx(1.0)  # threshold 0: all valid
    assert 0.0 <= losses['pseudo/accuracy'].item() <= 1.0
    # coupling: the student's argmax on the (mixed) strong view against the teacher's labels
    assert 0.0 < losses['pseudo/agreement'].item() <= 1.0
    # and per teacher class, averaged: every class the teacher labelled counts alike
    assert 0.0 <= losses['pseudo/class_agreement'].item() <= 1.0
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total) and losses['unsup_loss_seg'].item() > 0
    total.backward()
    assert all(p.grad is None for p in model.teacher.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.student.parameters())


def test_no_confident_pixel_gives_zero_unsupervised_loss(seg_batch):
    cfg, data = seg_batch
    model = build_model(cfg, pseudo_thr=1.0)  # softmax never reaches 1 on a random model
    losses = losses_of(model, data)
    assert losses['unsup_loss_seg'].item() == 0.0
    assert losses['pseudo/kept_share'].item() == 0.0
    losses['unsup_loss_seg'].backward()  # still connected to the student's graph


def test_burn_in_skips_the_teacher(seg_batch):
    cfg, data = seg_batch
    model = build_model(cfg, burn_in_iters=100)
    model.teacher.encode_decode = None  # would raise if called
    losses = losses_of(model, data, it=5)
    assert losses['unsup_weight'].item() == 0.0 and losses['unsup_loss_seg'].item() == 0.0


def test_padding_is_never_a_pseudo_label(seg_batch):
    cfg, data = seg_batch
    model = build_model(cfg)
    x = torch.zeros(2, 3, 6, 8)
    samples = copy.deepcopy(data['data_samples']['weak'])
    samples[0].set_metainfo(dict(padding_size=[0, 3, 0, 2]))  # left, right, top, bottom
    samples[1].set_metainfo(dict(padding_size=[0, 0, 0, 0]))
    valid = model.valid_mask(x, samples)
    assert valid[0].sum() == (6 - 2) * (8 - 3) and valid[0, :4, :5].all()
    assert valid[1].all()


def test_consensus_filter_builds_a_second_teacher_and_intersects(seg_batch):
    cfg, data = seg_batch
    model = build_model(cfg, pseudo_filters=[dict(type='ScoreThreshold', thr=0.0),
                                             dict(type='ConsensusFilter', dense_thr=0.0)])
    assert model.ema_teachers == ('teacher', 'teacher2')
    model.teacher2.load_state_dict(model.teacher.state_dict())
    assert losses_of(model, data)['pseudo/kept_share'].item() == 1.0  # identical: all agree
    batch = model.data_preprocessor(copy.deepcopy(data), True)
    _, label = model.teacher_maps('teacher', batch['inputs']['weak'])
    other = (int(label.flatten().mode().values) + 1) % model.num_classes
    with torch.no_grad():  # teacher2 now predicts another class everywhere
        model.teacher2.decode_head.conv_seg.bias[other] = 1e4
    valid = model.valid_mask(batch['inputs']['weak'], batch['data_samples']['weak'])
    want = ((label == other) & valid).sum() / valid.sum()
    assert losses_of(model, data)['pseudo/kept_share'].item() == pytest.approx(want.item())
    assert want < 1.0
    # a Dual Teacher pair: with teacher2 making the labels, its partner is teacher (were it
    # compared with itself, every pixel would be kept)
    model.set_active_teacher('teacher2')
    assert losses_of(model, data)['pseudo/kept_share'].item() == pytest.approx(want.item())


def test_plain_segmentor_checkpoint_fills_student_and_teachers(seg_batch):
    cfg, _ = seg_batch
    model = build_model(cfg)
    plain = {k: torch.randn_like(v) if v.is_floating_point() else v
             for k, v in model.student.state_dict().items()}
    model.load_state_dict(plain, strict=False)
    for name in ('student', 'teacher'):
        for k, v in getattr(model, name).state_dict().items():
            assert torch.equal(v, plain[k]), (name, k)


def test_bad_config_and_batch_get_clear_errors(seg_batch):
    cfg, data = seg_batch
    with pytest.raises(ConfigKeyError, match=r"unknown key\(s\) \['pseudo_thresh'\]"):
        build_model(cfg, pseudo_thresh=0.9)
    with pytest.raises(ConfigKeyError, match='mix must be one of'):
        build_model(cfg, mix='mixup')
    with pytest.raises(ConfigKeyError, match='weighting must be one of'):
        build_model(cfg, weighting='soft')
    model = build_model(cfg)
    batch = model.data_preprocessor(copy.deepcopy(data), True)
    inputs = {k: v for k, v in batch['inputs'].items() if k != 'strong'}
    with pytest.raises(ConfigKeyError, match="branches \\['sup', 'weak', 'strong'\\], got "
                                             "\\['sup', 'weak'\\]"):
        model.loss(inputs, batch['data_samples'])
    bad = copy.deepcopy(cfg.model)
    bad.semi_test_cfg = dict(predict_on='teacher3')
    with pytest.raises(ConfigKeyError, match='predict_on must be one of'):
        with DefaultScope.overwrite_default_scope('mmseg'):
            MODELS.build(bad)


# ---------------------------------------------------------------- DualTeacherHook on Runners
def dt_cfg(root, work_dir, max_iters, interval=2):
    cfg = seg_cfg(DT_SEG, root, work_dir, max_iters)
    cfg.custom_hooks[0].interval = interval
    cfg.model.segmentor.decode_head.dropout_ratio = 0.0
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False, interval=1)
    return cfg


def params(module):
    return [p.detach().clone() for p in module.parameters()]


def same(a, b):
    return all(torch.equal(x, y) for x, y in zip(params(a), params(b)))


@pytest.mark.slow
def test_dual_teacher_takes_turns_and_restarts_from_the_student(digitscenes, tmp_path):
    runner = Runner.from_cfg(dt_cfg(digitscenes, str(tmp_path / 'a'), 5))
    runner.train()
    model, hub = runner.model, runner.message_hub
    # iterations 0-1: teacher, 2-3: teacher2, 4: teacher again, restarted (momentum 1)
    assert model.active_teacher == 'teacher'
    assert hub.get_scalar('train/active_teacher').current() == 0.0
    assert hub.get_scalar('train/ema_momentum').current() == 1.0
    assert same(model.teacher, model.student)
    assert not same(model.teacher2, model.student)  # kept its weights from iteration 3
    assert model.semi_train_cfg['mix'] == 'cutmix'  # teacher A's strong augmentation
    hook = [h for h in runner.hooks if type(h).__name__ == 'DualTeacherHook'][0]
    assert hook.state_dict()['active'] == 0 and hook.state_dict()['step'] == 1
    assert hook.state_dict()['period'] == 2
    momenta = list(hub.get_scalar('train/ema_momentum').data[0])
    assert momenta == pytest.approx([1.0, 0.5, 1.0, 0.5, 1.0])


@pytest.mark.slow
def test_dual_teacher_turns_follow_the_schedule_length(digitscenes, tmp_path):
    """turns=N: ceil(max_iters / N) iterations per turn (the reference code's 200 epochs with a
    switch per epoch, kept relative to any schedule); interval and turns exclude each other."""
    cfg = dt_cfg(digitscenes, str(tmp_path / 'a'), 6)
    cfg.custom_hooks[0].interval = None
    cfg.custom_hooks[0].turns = 2  # 6 iterations: 3 per turn
    runner = Runner.from_cfg(cfg)
    runner.train()
    momenta = list(runner.message_hub.get_scalar('train/ema_momentum').data[0])
    assert momenta == pytest.approx([1.0, 0.5, 1 / 3, 1.0, 0.5, 1 / 3])
    active = list(runner.message_hub.get_scalar('train/active_teacher').data[0])
    assert active == [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]
    from mtkit.hooks import DualTeacherHook
    with pytest.raises(ConfigKeyError, match='turns must be >= 1 and given without interval'):
        DualTeacherHook(interval=5, turns=200)
    with pytest.raises(ConfigKeyError, match='turns must be >= 1'):
        DualTeacherHook(turns=0)


@pytest.mark.slow
def test_dual_teacher_resumes_exactly(digitscenes, tmp_path):
    """Teachers, active teacher, its step count and per-teacher settings survive a resume;
    the weights after it equal a straight run's, CutMix / ClassMix masks included."""

    def cfg_of(work_dir, iters):
        return dt_cfg(digitscenes, str(tmp_path / work_dir), iters, interval=3)

    straight = Runner.from_cfg(cfg_of('a', 5))
    straight.train()
    first = Runner.from_cfg(cfg_of('b', 4))
    first.train()  # stops inside teacher2's turn, after its first of three updates
    cfg = cfg_of('b', 5)
    cfg.resume = True
    resumed = Runner.from_cfg(cfg)
    resumed.train()
    assert resumed.iter == 5
    hooks = [[h for h in r.hooks if type(h).__name__ == 'DualTeacherHook'][0]
             for r in (straight, resumed)]
    assert hooks[0].state_dict() == hooks[1].state_dict()
    assert resumed.model.active_teacher == 'teacher2'
    assert resumed.model.semi_train_cfg['mix'] == 'classmix'
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.mark.slow
def test_dual_teacher_hook_needs_its_teachers(digitscenes, tmp_path):
    cfg = dt_cfg(digitscenes, str(tmp_path), 1)
    cfg.custom_hooks[0].teacher_names = ('teacher', 'teacher3')
    with pytest.raises(ConfigKeyError, match=r"DualTeacherHook.teacher_names names \['teacher3'\], "
                                             r"but MeanTeacherSegmentor declares the teachers"):
        Runner.from_cfg(cfg).train()
    cfg = dt_cfg(digitscenes, str(tmp_path), 1)
    cfg.custom_hooks.append(dict(type='mtkit.EMATeacherHook', momentum=0.01))
    with pytest.raises(ConfigKeyError, match='updated by more than one hook'):
        Runner.from_cfg(cfg).train()
    with pytest.raises(ConfigKeyError, match='one dict per teacher'):
        from mtkit.hooks import DualTeacherHook
        DualTeacherHook(teacher_names=('teacher', 'teacher2'),
                        teacher_train_cfgs=[dict(mix='cutmix')])


@pytest.mark.slow
def test_dual_teacher_on_the_detection_wrapper(digitscenes, tmp_path):
    """Switching teachers are model-agnostic: on MeanTeacherDetector the active teacher makes
    the pseudo boxes."""
    from helpers import point_digitscenes
    cfg = small_run_cfg(point_digitscenes(Config.fromfile(MT_DET), digitscenes),
                        str(tmp_path), 3, val=False)
    cfg.train_dataloader.batch_size = 2
    cfg.train_dataloader.sampler.batch_size = 2
    cfg.model.num_teachers = 2
    cfg.model.semi_train_cfg.update(burn_in_iters=0, ramp_iters=0)
    cfg.custom_hooks = [dict(type='mtkit.DualTeacherHook', interval=2)]
    runner = Runner.from_cfg(cfg)
    calls = []
    for name in ('teacher', 'teacher2'):
        module = getattr(runner.model, name)
        original = module.predict

        def spy(*args, _name=name, _orig=original, **kwargs):
            calls.append(_name)
            return _orig(*args, **kwargs)
        module.predict = spy
    runner.train()
    assert calls == ['teacher', 'teacher', 'teacher2']
    assert runner.model.active_teacher == 'teacher2'
    assert same(runner.model.teacher2, runner.model.student)  # restarted at iteration 2
    assert not same(runner.model.teacher, runner.model.student)


def test_non_finite_teacher_or_loss_stops_with_the_iteration(seg_batch):
    cfg, data = seg_batch
    model = build_model(cfg)
    with torch.no_grad():
        model.teacher.decode_head.conv_seg.bias[0] = float('nan')
    with pytest.raises(FloatingPointError, match='logits of teacher on the weak view at '
                                                 'iteration 7 has NaN/inf'):
        losses_of(model, data, it=7)
    model = build_model(cfg, pseudo_thr=0.0)
    with torch.no_grad():
        model.student.decode_head.conv_seg.bias[0] = float('inf')
    with pytest.raises(FloatingPointError, match='unsupervised loss at iteration 3'):
        losses_of(model, data, it=3)


def test_gmm_thresholds_on_pixel_confidences(seg_batch):
    cfg, data = seg_batch
    model = build_model(cfg, pseudo_filters=[dict(type='GMMThreshold', num_classes=11,
                                                  dense_samples=50)])
    gmm = model.pseudo_filter.filters[0]
    assert int((gmm.queue > 0).sum()) == 0
    losses = losses_of(model, data)
    filled = (gmm.queue > 0).sum(1)
    # the classes the random teacher predicts got at most 50 pixel samples each
    assert int(filled.sum()) > 0 and int(filled.max()) <= 50
    assert 0.0 <= losses['pseudo/kept_share'].item() <= 1.0
    assert 'pseudo_filter.filters.0.queue' in model.state_dict()  # travels in checkpoints


def test_class_quantile_thresholds_and_class_balanced_loss(seg_batch):
    """Class-aware pixel pseudo labels on a real mmseg segmentor: per-class running quantile
    thresholds (updated from the teacher's maps, saved in checkpoints) and the class-balanced
    CE, which equals the plain masked CE when the kept pixels are one class."""
    cfg, data = seg_batch
    torch.manual_seed(0)
    filters = [dict(type='ClassQuantileThreshold', num_classes=11, quantile=0.5, momentum=1.0,
                    floor=0.0, ceiling=1.0)]
    model = build_model(cfg, pseudo_filters=filters, weighting='class_balanced')
    f = model.pseudo_filter.filters[0]
    assert f.thr.tolist() == pytest.approx([0.95] * 11)
    losses = losses_of(model, data)
    conf, plabel = model.teacher_maps(model.active_teacher, batch_weak(model, data))
    predicted = plabel.unique().tolist()
    # momentum 1: a predicted class's threshold is its median confidence; the others keep init
    for c in range(11):
        if c in predicted:
            v = conf[plabel == c].double()
            assert f.thr[c].item() == pytest.approx(
                torch.quantile(v, 0.5, interpolation='lower').item(), abs=1e-6)
        else:
            assert f.thr[c].item() == pytest.approx(0.95)
    # about half of each predicted class's pixels are kept (ties and padding aside)
    assert 0.3 <= losses['pseudo/kept_share'].item() <= 0.7
    assert torch.isfinite(losses['unsup_loss_seg']) and losses['unsup_loss_seg'].item() > 0
    losses['unsup_loss_seg'].backward()
    assert 'pseudo_filter.filters.0.thr' in model.state_dict()


def batch_weak(model, data):
    batch = model.data_preprocessor(copy.deepcopy(data), True)
    return batch['inputs']['weak']


def test_oracle_uses_the_held_out_labels_and_never_runs_the_teacher(seg_batch):
    """semi_train_cfg.oracle: every labeled pixel of the unlabeled images is a pseudo label with
    its ground-truth class (accuracy 1), the teacher is not run; without the label maps in the
    unlabeled pipeline it is a ConfigKeyError naming the key."""
    cfg, data = seg_batch
    model = build_model(cfg, oracle=True, mix=None)
    model.teacher.encode_decode = None  # would raise if called
    model.student.eval()  # no dropout: the loss is compared with a recomputation below
    losses = losses_of(model, data)
    assert losses['pseudo/accuracy'].item() == 1.0
    assert losses['pseudo/kept_share'].item() == 1.0  # kept / valid, valid = labeled pixels
    assert torch.isfinite(losses['unsup_loss_seg']) and losses['unsup_loss_seg'].item() > 0
    # the loss is the student's CE against the held-out labels on the strong view
    batch = model.data_preprocessor(copy.deepcopy(data), True)
    strong = batch['inputs']['strong']
    gt = torch.stack([s.gt_sem_seg.data[0] for s in batch['data_samples']['strong']]).long()
    from mtkit.models.seg.mean_teacher_segmentor import full_image_metas
    logits = model.student.encode_decode(strong, full_image_metas(strong))
    expected = torch.nn.functional.cross_entropy(logits, gt, ignore_index=255)
    assert losses['unsup_loss_seg'].item() == pytest.approx(expected.item(), rel=1e-4)
    for s in data['data_samples']['strong']:
        del s.gt_sem_seg
    with pytest.raises(ConfigKeyError, match='semi_train_cfg.oracle need the unlabeled pipeline'):
        losses_of(model, data)


def test_per_class_sizes_are_checked_when_the_segmentor_is_built(seg_batch):
    cfg, _ = seg_batch
    with pytest.raises(ConfigKeyError, match=r'pseudo_thr -> pseudo_filters\[0\] '
                                             r'\(ScoreThreshold\) has 3 per-class thresholds, '
                                             r'but the model predicts 11 classes'):
        build_model(cfg, pseudo_thr=[0.9, 0.9, 0.9])
    with pytest.raises(ConfigKeyError, match=r'pseudo_filters\[0\] \(ClassQuantileThreshold\) '
                                             r'has 10 per-class thresholds, 10 num_classes'):
        build_model(cfg, pseudo_filters=[dict(type='ClassQuantileThreshold', num_classes=10)])


def test_pseudo_thr_beside_pseudo_filters_is_an_error(seg_batch):
    # pseudo_thr only builds the default chain: given with pseudo_filters it would be ignored
    cfg, _ = seg_batch
    with pytest.raises(ConfigKeyError, match=r"MeanTeacherSegmentor.semi_train_cfg: "
                                             r"\['pseudo_thr'\] only build the default "
                                             r"pseudo_filters and are ignored"):
        build_model(cfg, pseudo_thr=0.9, pseudo_filters=[dict(type='ScoreThreshold', thr=0.5)])
    model = build_model(cfg, pseudo_filters=[dict(type='ScoreThreshold', thr=0.5)])
    assert model.pseudo_filter.filters[0].thr == 0.5


def test_a_checkpoint_with_nan_is_refused_naming_the_tensor(seg_batch):
    cfg, _ = seg_batch
    model = build_model(cfg)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    state['teacher.decode_head.conv_seg.bias'][3] = float('inf')
    with pytest.raises(FloatingPointError, match="MeanTeacherSegmentor: the checkpoint's tensor "
                                                 "'teacher.decode_head.conv_seg.bias' has 1 "
                                                 "NaN/inf value"):
        model.load_state_dict(state)
