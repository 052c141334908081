"""mtkit.MeanTeacherDetector on a real mmdet YOLOX-tiny (no Runner)."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.registry import DefaultScope, init_default_scope
from mmengine.structures import InstanceData

from conftest import REPO
from mtkit.registry import MODELS

init_default_scope('mmdet')


@pytest.fixture(autouse=True)
def _mmdet_scope():
    # every test builds mmdet models: under pytest-xdist a test of another module may have run
    # before in this process and left its own default scope current
    with DefaultScope.overwrite_default_scope('mmdet'):
        yield
DET_CFG = Config.fromfile(osp.join(REPO, 'configs/_base_/models/yolox_tiny_digitscenes.py'))


def build(**train_cfg):
    torch.manual_seed(0)
    model = MODELS.build(dict(type='MeanTeacherDetector', detector=DET_CFG.detector,
                              semi_train_cfg=train_cfg))
    model.train()
    return model


def sample(boxes=(), labels=(), matrix=None, size=64):
    s = DetDataSample(metainfo=dict(
        img_shape=(size, size), ori_shape=(size, size), pad_shape=(size, size),
        batch_input_shape=(size, size), scale_factor=(1.0, 1.0),
        homography_matrix=np.eye(3, dtype=np.float32) if matrix is None else matrix))
    s.gt_instances = InstanceData(
        bboxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
        labels=torch.tensor(labels, dtype=torch.long),
        scores=torch.ones(len(labels)))
    return s


def set_iter(model, it):
    model.set_train_iter(it)  # what the teacher hooks do before every iteration


def test_unknown_cfg_key_is_named():
    with pytest.raises(KeyError, match=r"unknown key\(s\) \['unsup_wieght'\]; valid keys"):
        build(unsup_wieght=2.0)
    with pytest.raises(ValueError, match='ramp kind'):
        build(ramp='cosine')


def test_per_class_sizes_are_checked_when_the_model_is_built():
    """A per-class threshold list or a filter's num_classes that does not match the detector's
    10 classes fails at build time naming the key, not after burn-in."""
    from mtkit.utils.errors import ConfigKeyError
    with pytest.raises(ConfigKeyError, match=r'pseudo_thr -> pseudo_filters\[0\] '
                                             r'\(ScoreThreshold\) has 3 per-class thresholds, '
                                             r'but the model predicts 10 classes'):
        build(pseudo_thr=[0.5, 0.6, 0.7])
    with pytest.raises(ConfigKeyError, match=r'semi_train_cfg.pseudo_filters\[1\] '
                                             r'\(GMMThreshold\) has 5 per-class thresholds, '
                                             r'5 num_classes'):
        build(pseudo_filters=[dict(type='ScoreThreshold', thr=0.1),
                              dict(type='GMMThreshold', num_classes=5)])
    build(pseudo_thr=[0.5] * 10)  # one per class: fine


def test_plain_checkpoint_fills_teacher_and_student():
    model = build()
    plain = {k: torch.full_like(v, 0.5) if v.is_floating_point() else v
             for k, v in model.student.state_dict().items()}
    model.load_state_dict(plain)
    for name in ('teacher', 'student'):
        w = getattr(model, name).backbone.stem.conv.conv.weight
        assert torch.all(w == 0.5)


def test_projection_and_filters():
    model = build(pseudo_filters=[dict(type='ScoreThreshold', thr=0.5),
                                  dict(type='MinBoxSize', min_size=4)])
    shift = np.array([[1, 0, 5], [0, 1, -2], [0, 0, 1]], dtype=np.float32)
    pseudo = sample([[10, 10, 30, 30], [0, 0, 3, 3], [20, 20, 40, 40]], [1, 2, 3])
    pseudo.gt_instances.scores = torch.tensor([0.9, 0.9, 0.3])
    out = model.pseudo_labeler.project([pseudo.gt_instances], [sample(matrix=shift)]).kept[0]
    assert out.labels.tolist() == [1]                   # tiny box and low score removed
    assert out.bboxes.tolist() == [[15.0, 8.0, 35.0, 28.0]]  # moved by the student's shift


def test_missing_homography_and_branches_are_named():
    model = build()
    s = sample()
    del s.homography_matrix
    with pytest.raises(KeyError, match='"unsup_student" branch has no homography_matrix'):
        model.pseudo_labeler.project([sample().gt_instances], [s])
    with pytest.raises(KeyError, match=r"lacks branch\(es\) \['unsup_teacher', "
                       r"'unsup_student'\]"):
        model.loss(dict(sup=torch.zeros(1, 3, 64, 64)), dict(sup=[sample()]))


def test_empty_pseudo_labels_give_zero_loss_with_valid_graph():
    model = build()
    x = torch.rand(2, 3, 64, 64) * 255
    losses = model.unsup_loss(x, [sample(), sample()])
    loss_keys = sorted(k for k in losses if 'loss' in k)
    assert loss_keys == ['unsup_loss_bbox', 'unsup_loss_cls', 'unsup_loss_obj']
    total = sum(losses[k] for k in loss_keys)
    assert total.item() == 0.0
    total.backward()
    grads = [p.grad for p in model.student.parameters()]
    assert all(g is not None and torch.all(g == 0) for g in grads)
    assert losses['unsup_pseudo_per_img'].item() == 0.0


def test_images_without_pseudo_boxes_contribute_nothing():
    model = build(unsup_weight=2.0)
    set_iter(model, 10)
    x = torch.rand(2, 3, 64, 64) * 255
    full = sample([[8, 8, 40, 40]], [3])
    losses = model.unsup_loss(x, [full, sample()])
    alone = model.student.loss(x[:1], [sample([[8, 8, 40, 40]], [3])])
    for k in ('loss_cls', 'loss_bbox', 'loss_obj'):
        torch.testing.assert_close(losses['unsup_' + k], 2.0 * alone[k])
    assert losses['unsup_pseudo_per_img'].item() == 0.5


def _multi_batch(n=2):
    x = torch.rand(n, 3, 64, 64) * 255
    return (dict(sup=x.clone(), unsup_teacher=x.clone(), unsup_student=x.clone()),
            dict(sup=[sample([[8, 8, 40, 40]], [3]) for _ in range(n)],
                 unsup_teacher=[sample() for _ in range(n)],
                 unsup_student=[sample() for _ in range(n)]))


def test_burn_in_skips_the_teacher_then_ramps():
    model = build(burn_in_iters=5, ramp_iters=10, unsup_weight=4.0,
                  pseudo_filters=[dict(type='ScoreThreshold', thr=0.0)])
    calls = []
    model.teacher.backbone.register_forward_hook(lambda *a: calls.append(1))
    set_iter(model, 2)
    losses = model.loss(*_multi_batch())
    assert calls == [] and losses['unsup_weight'].item() == 0.0
    assert losses['unsup_loss_cls'].item() == 0.0
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    set_iter(model, 10)  # half-way through the ramp: 4.0 * 0.5
    losses = model.loss(*_multi_batch())
    assert calls == [1] and losses['unsup_weight'].item() == pytest.approx(2.0)
    assert losses['unsup_pseudo_per_img'].item() > 0  # threshold 0 keeps teacher boxes


def test_predict_on_teacher_or_student():
    model = build()
    model.eval()
    with torch.no_grad():
        for p in model.student.parameters():
            p.add_(0.1)
    x = torch.rand(1, 3, 64, 64) * 255
    outs = {}
    for who in ('teacher', 'student'):
        model.semi_test_cfg['predict_on'] = who
        with torch.no_grad():
            outs[who] = model.predict(x, [sample()])[0].pred_instances.scores
    assert not torch.equal(outs['teacher'], outs['student'])
    with pytest.raises(ValueError, match='predict_on must be one of'):
        MODELS.build(dict(type='MeanTeacherDetector', detector=DET_CFG.detector,
                          semi_test_cfg=dict(predict_on='both')))


def test_held_out_ground_truth_is_measured_but_never_trained_on():
    model = build(pseudo_filters=[dict(type='ScoreThreshold', thr=0.5)],
                  diagnose_pseudo_labels=True)
    pseudo = sample([[10, 10, 30, 30], [40, 40, 60, 60], [0, 0, 8, 8]], [1, 2, 3])
    pseudo.gt_instances.scores = torch.tensor([0.9, 0.8, 0.2])
    student = sample([[11, 11, 30, 30], [40, 40, 60, 60], [20, 0, 30, 9]], [1, 5, 7])  # held out
    out = model.pseudo_labeler.project([pseudo.gt_instances], [student]).kept[0]
    assert out.labels.tolist() == [1, 2]  # the student sees pseudo labels, not the ground truth
    assert student.gt_instances.labels.tolist() == [1, 5, 7]  # which stays the ground truth
    stats = model.pseudo_stats.pop()
    assert stats['raw'] == 3 and stats['pseudo'] == 2
    assert stats['pseudo_correct'] == 1  # box 1 matches (IoU .9); box 2 has the wrong class
    assert stats['gt'] == 3 and stats['gt_found'] == 1 and stats['gt_images'] == 1
    # everything filtered: the student's sample holds no box at all, not the ground truth
    empty = model.pseudo_labeler.project(
        [sample([[10, 10, 30, 30]], [1]).gt_instances], [sample([[10, 10, 30, 30]], [1])])
    assert len(empty.kept[0]) == 1  # score 1.0 passes; now with a failing score:
    low = sample([[10, 10, 30, 30]], [1])
    low.gt_instances.scores = torch.tensor([0.1])
    none = model.pseudo_labeler.project([low.gt_instances], [sample([[10, 10, 30, 30]], [1])])
    assert len(none.kept[0]) == 0
    assert len(none.student_samples([sample([[10, 10, 30, 30]], [1])])[0].gt_instances) == 0


def test_a_checkpoint_with_nan_is_refused_naming_the_tensor():
    """A NaN weight in a checkpoint (load_from or resume) would make the EMA teacher NaN for
    good; loading refuses it and names the tensor. A plain detector checkpoint fills every
    teacher, the consensus partner included."""
    model = build(pseudo_filters=[dict(type='ScoreThreshold', thr=0.5),
                                  dict(type='ConsensusFilter')])
    plain = {k: v.clone() for k, v in model.student.state_dict().items()}
    key = next(k for k, v in plain.items() if v.is_floating_point() and v.numel() > 3)
    plain[key].view(-1)[:2] = float('nan')
    with pytest.raises(FloatingPointError, match=f"MeanTeacherDetector: the checkpoint's tensor "
                                                 f"'{key}' has 2 NaN/inf value"):
        model.load_state_dict(plain)
    plain[key].view(-1)[:2] = 0.5
    model.load_state_dict(plain)
    for name in ('student', 'teacher', 'teacher2'):
        torch.testing.assert_close(getattr(model, name).state_dict()[key], plain[key])


def test_a_nan_teacher_stops_before_the_score_threshold_hides_it():
    """NaN teacher scores would be dropped by mmdet's score_thr (no pseudo boxes, training goes
    on); the raw head outputs are checked first and stop with the teacher and iteration."""
    model = build(pseudo_filters=[dict(type='GMMThreshold', num_classes=10)])
    with torch.no_grad():
        model.teacher.bbox_head.multi_level_conv_cls[0].bias.fill_(float('nan'))
    set_iter(model, 12)
    x = torch.rand(2, 3, 64, 64) * 255
    samples = [sample(), sample()]
    with pytest.raises(FloatingPointError, match='MeanTeacherDetector: the bbox_head outputs of '
                                                 'teacher at iteration 12 has NaN/inf values'):
        model.teacher_boxes('teacher', model.data_preprocessor(
            dict(inputs=list(x), data_samples=samples), False)['inputs'], samples)
    assert not model.teacher.bbox_head._forward_hooks  # the check leaves no hook behind
