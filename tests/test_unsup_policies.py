"""Oracle pseudo labels and the unsupervised loss policies of MeanTeacherDetector: the pure
cores against hand-computed values, then the wrapper on real mmdet dense heads (YOLOX,
RetinaNet, FCOS, RTMDet) without a Runner."""
import copy
import os.path as osp

import numpy as np
import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.registry import DefaultScope, init_default_scope
from mmengine.structures import InstanceData

from conftest import REPO
from mtkit.filters.oracle import check_oracle, degrade_boxes
from mtkit.losses.dense_regions import level_centers, region_weights, scale_grad
from mtkit.registry import MODELS

init_default_scope('mmdet')


@pytest.fixture(autouse=True)
def _mmdet_scope():
    # every test builds mmdet models: under pytest-xdist a test of another module may have run
    # before in this process and left its own default scope current
    with DefaultScope.overwrite_default_scope('mmdet'):
        yield
YOLOX = Config.fromfile(osp.join(REPO, 'configs/_base_/models/yolox_tiny_digitscenes.py')).detector
BN = dict(type='BN', requires_grad=True)
PRE = dict(type='DetDataPreprocessor', pad_size_divisor=32)
R18 = dict(type='ResNet', depth=18, num_stages=4, out_indices=(1, 2, 3), frozen_stages=-1,
           norm_cfg=BN, norm_eval=False, style='pytorch')
FPN = dict(type='FPN', in_channels=[128, 256, 512], out_channels=32, start_level=0,
           add_extra_convs='on_output', num_outs=3)
RETINANET = dict(
    type='RetinaNet', data_preprocessor=PRE, backbone=R18, neck=FPN,
    bbox_head=dict(
        type='RetinaHead', num_classes=10, in_channels=32, stacked_convs=1, feat_channels=32,
        anchor_generator=dict(type='AnchorGenerator', octave_base_scale=2,
                              scales_per_octave=1, ratios=[1.0], strides=[8, 16, 32]),
        bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[.0] * 4,
                        target_stds=[1.0] * 4),
        loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25,
                      loss_weight=1.0),
        loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
    train_cfg=dict(assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.4,
                                 min_pos_iou=0, ignore_iof_thr=-1),
                   sampler=dict(type='PseudoSampler'), allowed_border=-1, pos_weight=-1,
                   debug=False),
    test_cfg=dict(nms_pre=100, min_bbox_size=0, score_thr=0.05,
                  nms=dict(type='nms', iou_threshold=0.5), max_per_img=20))
FCOS = dict(
    type='FCOS', data_preprocessor=PRE, backbone=R18, neck=FPN,
    bbox_head=dict(
        type='FCOSHead', num_classes=10, in_channels=32, stacked_convs=1, feat_channels=32,
        strides=[8, 16, 32], regress_ranges=((-1, 32), (32, 64), (64, 1e8)),
        loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25,
                      loss_weight=1.0),
        loss_bbox=dict(type='IoULoss', loss_weight=1.0),
        loss_centerness=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0)),
    test_cfg=dict(nms_pre=100, min_bbox_size=0, score_thr=0.05,
                  nms=dict(type='nms', iou_threshold=0.5), max_per_img=20))
RTMDET = dict(
    type='RTMDet', data_preprocessor=PRE,
    backbone=dict(type='CSPNeXt', arch='P5', expand_ratio=0.5, deepen_factor=0.167,
                  widen_factor=0.25, channel_attention=True, norm_cfg=BN,
                  act_cfg=dict(type='SiLU', inplace=True)),
    neck=dict(type='CSPNeXtPAFPN', in_channels=[64, 128, 256], out_channels=64,
              num_csp_blocks=1, expand_ratio=0.5, norm_cfg=BN,
              act_cfg=dict(type='SiLU', inplace=True)),
    bbox_head=dict(
        type='RTMDetSepBNHead', num_classes=10, in_channels=64, stacked_convs=1,
        feat_channels=64, anchor_generator=dict(type='MlvlPointGenerator', offset=0,
                                                strides=[8, 16, 32]),
        bbox_coder=dict(type='DistancePointBBoxCoder'),
        loss_cls=dict(type='QualityFocalLoss', use_sigmoid=True, beta=2.0, loss_weight=1.0),
        loss_bbox=dict(type='GIoULoss', loss_weight=2.0), with_objectness=False,
        exp_on_reg=False, share_conv=True, pred_kernel_size=1, norm_cfg=BN,
        act_cfg=dict(type='SiLU', inplace=True)),
    train_cfg=dict(assigner=dict(type='DynamicSoftLabelAssigner', topk=13),
                   allowed_border=-1, pos_weight=-1, debug=False),
    test_cfg=dict(nms_pre=100, min_bbox_size=0, score_thr=0.05,
                  nms=dict(type='nms', iou_threshold=0.6), max_per_img=20))
DETECTORS = dict(yolox=YOLOX, retinanet=RETINANET, fcos=FCOS, rtmdet=RTMDET)


@pytest.fixture(autouse=True)
def mmdet_scope():
    """Tests of other files run before these leave another default scope (mmseg, mmengine)."""
    with DefaultScope.overwrite_default_scope('mmdet'):
        yield


def build(detector=YOLOX, **train_cfg):
    torch.manual_seed(0)
    model = MODELS.build(dict(type='MeanTeacherDetector', detector=copy.deepcopy(detector),
                              semi_train_cfg=train_cfg))
    model.train()
    return model


def sample(boxes=(), labels=(), scores=None, size=64):
    s = DetDataSample(metainfo=dict(
        img_shape=(size, size), ori_shape=(size, size), pad_shape=(size, size),
        batch_input_shape=(size, size), scale_factor=(1.0, 1.0), img_path=f'img{len(boxes)}.png',
        homography_matrix=np.eye(3, dtype=np.float32)))
    s.gt_instances = InstanceData(
        bboxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
        labels=torch.tensor(labels, dtype=torch.long),
        scores=torch.ones(len(labels)) if scores is None else torch.tensor(scores))
    return s


def set_iter(model, it):
    model.set_train_iter(it)  # what the teacher hooks do before every iteration


def total_loss(losses):
    parts = [p for k, v in losses.items() if 'loss' in k
             for p in (v if isinstance(v, (list, tuple)) else [v])]
    return sum(parts[1:], parts[0])


def loss_values(losses):
    return {k: float(sum(v) if isinstance(v, (list, tuple)) else v)
            for k, v in losses.items() if 'loss' in k}


# ----------------------------------------------------------------------------- pure cores
def test_level_centers_row_major():
    c = level_centers((2, 3), (8, 8), 0.5, torch.device('cpu'))
    assert c.tolist() == [[4, 4], [12, 4], [20, 4], [4, 12], [12, 12], [20, 12]]


def test_region_weights_by_hand():
    # one 4x4 level of stride 8, centres at 4, 12, 20, 28
    regions = [torch.tensor([[0., 0., 16., 16.], [8., 0., 24., 8.]]), torch.zeros(0, 4)]
    weights = [torch.tensor([0.0, 0.5]), torch.zeros(0)]
    kept = [torch.tensor([[8., 8., 16., 16.]]), torch.zeros(0, 4)]
    (m, ) = region_weights(regions, weights, kept, [(4, 4)], [8])
    assert m.shape == (2, 1, 4, 4)
    expected = torch.ones(4, 4)
    expected[0, 0] = expected[0, 1] = expected[1, 0] = 0.0  # inside the weight-0 region
    expected[0, 2] = 0.5                                     # only inside the 0.5 region
    # (1, 1), centre (12, 12), is inside the region but also inside the kept box -> 1
    assert torch.equal(m[0, 0], expected)
    assert torch.equal(m[1], torch.ones(1, 4, 4))          # no regions in image 2


def test_region_weights_levels_and_bad_input():
    maps = region_weights([torch.tensor([[0., 0., 32., 32.]])], [torch.tensor([0.25])],
                          [torch.zeros(0, 4)], [(4, 4), (2, 2)], [8, (16, 16)], offset=0.0)
    assert maps[0][0, 0, :4, :4].eq(0.25).sum() == 16  # centres 0, 8, 16, 24 all inside
    assert maps[1][0, 0].tolist() == [[0.25, 0.25], [0.25, 0.25]]  # centres 0 and 16
    with pytest.raises(ValueError, match='2 feature maps but 1 strides'):
        region_weights([torch.zeros(0, 4)], [torch.zeros(0)], [torch.zeros(0, 4)],
                       [(4, 4), (2, 2)], [8])


def test_scale_grad_keeps_value_scales_gradient():
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = scale_grad(x, torch.tensor([0.0, 0.5, 1.0]))
    assert torch.equal(y, x.detach())
    (y * torch.tensor([2.0, 2.0, 2.0])).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 2.0]


def test_degrade_boxes_identity_and_each_degradation():
    boxes = torch.tensor([[10., 10., 30., 30.], [40., 40., 60., 50.]])
    labels = torch.tensor([3, 7])
    b, lab = degrade_boxes(boxes, labels, (64, 64), 10)
    assert torch.equal(b, boxes) and torch.equal(lab, labels)
    g = torch.Generator().manual_seed(0)
    b, lab = degrade_boxes(boxes, labels, (64, 64), 10, recall=0.0, generator=g)
    assert b.shape == (0, 4) and lab.shape == (0, )
    b, lab = degrade_boxes(boxes, labels, (64, 64), 10, false_positives=3, generator=g)
    assert b.shape == (5, 4) and torch.equal(b[:2], boxes) and torch.equal(lab[:2], labels)
    fp = b[2:]
    side = fp[:, 2] - fp[:, 0]
    assert bool(((side >= 6.4 - 1e-4) & (side <= 22.4 + 1e-4)).all())
    assert bool((fp >= 0).all() and (fp <= 64).all()) and bool(((lab >= 0) & (lab < 10)).all())
    n = [len(degrade_boxes(boxes, labels, (64, 64), 10, false_positives=0.5,
                           generator=g)[0]) - 2 for _ in range(400)]
    assert set(n) == {0, 1} and 0.4 < np.mean(n) < 0.6
    b, _ = degrade_boxes(boxes, labels, (64, 64), 10, jitter=0.3, generator=g)
    assert not torch.equal(b, boxes)
    assert bool((b[:, 2:] >= b[:, :2]).all() and (b >= 0).all() and (b <= 64).all())


def test_check_oracle_errors():
    assert check_oracle(dict(recall=0.6)) == dict(recall=0.6, false_positives=0.0, jitter=0.0)
    with pytest.raises(KeyError, match=r"unknown key\(s\) \['recal'\]"):
        check_oracle(dict(recal=0.6))
    with pytest.raises(ValueError, match='oracle.recall must lie in'):
        check_oracle(dict(recall=1.5))
    with pytest.raises(ValueError, match='false_positives must be >= 0'):
        check_oracle(dict(false_positives=-1))


# ----------------------------------------------------------------------------- the wrapper
def test_policy_keys_are_validated():
    with pytest.raises(ValueError, match=r"unsup_images must be one of \('with_pseudo', 'all'\)"):
        build(unsup_images='some')
    with pytest.raises(ValueError, match='unsup_norm must be one of'):
        build(unsup_norm='positives')
    with pytest.raises(ValueError, match='unsup_loss_terms must be None or a non-empty list'):
        build(unsup_loss_terms='loss_cls')
    with pytest.raises(ValueError, match="uncertain_weight must be a float in"):
        build(uncertain_thr=0.1, uncertain_weight=2)
    with pytest.raises(KeyError, match='oracle'):
        build(oracle=dict(noise=1))
    # mmdet's shorthands only build the default filters: with pseudo_filters they would be
    # silently ignored
    with pytest.raises(KeyError, match=r"\['pseudo_thr'\] only build the default "
                                       r"pseudo_filters and are ignored"):
        build(pseudo_filters=[dict(type='ScoreThreshold', thr=0.7)], pseudo_thr=0.9)
    build(pseudo_filters=[dict(type='ScoreThreshold', thr=0.7)], pseudo_thr=None)


def _batch(n=2, size=64):
    torch.manual_seed(1)
    x = torch.rand(n, 3, size, size) * 255
    gt = [sample([[8, 8, 30, 30], [34, 30, 60, 58]], [3, 5]), sample([[20, 4, 44, 28]], [1])]
    return x, gt[:n]


def test_oracle_unsup_loss_equals_supervised_loss_on_the_strong_view():
    """The identity the issue pins: held-out ground truth as pseudo labels gives exactly the
    supervised loss of the same strong images (weight 1, whole batch)."""
    model = build(oracle=dict(), unsup_weight=1.0)
    set_iter(model, 10)
    x, gt = _batch()
    inputs = dict(sup=x.clone(), unsup_teacher=x.clone(), unsup_student=x.clone())
    samples = dict(sup=copy.deepcopy(gt), unsup_teacher=copy.deepcopy(gt),
                   unsup_student=copy.deepcopy(gt))
    model.teacher.forward = None  # the oracle never runs the teacher
    losses = loss_values(model.loss(inputs, samples))
    ref = loss_values(model.student.loss(x, copy.deepcopy(gt)))
    for k, v in ref.items():
        assert losses['unsup_' + k] == pytest.approx(v, rel=1e-5)
        assert losses['sup_' + k] == pytest.approx(v, rel=1e-5)  # and the supervised branch
    # with diagnostics, the undegraded oracle is perfect
    model = build(oracle=dict(), diagnose_pseudo_labels=True)
    model.pseudo_labeler.oracle(copy.deepcopy(gt))
    s = model.pseudo_stats.pop()
    assert s['pseudo'] == 3 and s['pseudo_correct'] == 3
    assert s['gt_found'] == s['gt'] == 3


def test_oracle_without_ground_truth_names_the_image():
    model = build(oracle=dict(recall=0.5))
    s = sample()
    del s.gt_instances
    with pytest.raises(KeyError, match=r'oracle needs the held-out ground truth.*img0.png'):
        model.pseudo_labeler.oracle([s])


def test_oracle_degradation_reaches_the_pseudo_labels():
    model = build(oracle=dict(recall=0.0, false_positives=2))
    _, gt = _batch()
    out = model.pseudo_labeler.oracle(copy.deepcopy(gt))
    assert out.counts == [2, 2]
    assert all(bool((k.labels < 10).all()) for k in out.kept)


def test_whole_batch_and_pseudo_density_by_hand():
    x, gt = _batch()
    samples = [gt[1], sample()]  # one pseudo box in two images
    model = build(unsup_images='all', unsup_norm='pseudo_density', unsup_weight=2.0)
    set_iter(model, 10)
    losses = loss_values(model.unsup_loss(x, copy.deepcopy(samples),
                                                        sup_density=3.0))
    ref = loss_values(model.student.loss(x, copy.deepcopy(samples)))
    factor = 2.0 * (1 / 2) / 3.0  # weight x min(1, 0.5 pseudo boxes per image / 3)
    for k, v in ref.items():
        assert losses['unsup_' + k] == pytest.approx(factor * v, rel=1e-5)
    # the default cuts the image without pseudo boxes
    cut = loss_values(build(unsup_weight=2.0).unsup_loss(
        x, copy.deepcopy(samples)))
    alone = loss_values(model.student.loss(x[:1], copy.deepcopy(samples[:1])))
    for k, v in alone.items():
        assert cut['unsup_' + k] == pytest.approx(2.0 * v, rel=1e-5)
    # many pseudo boxes: the factor saturates at 1 (the head's own normalisation)
    dense = loss_values(model.unsup_loss(x, copy.deepcopy(gt), sup_density=0.5))
    ref = loss_values(model.student.loss(x, copy.deepcopy(gt)))
    for k, v in ref.items():
        assert dense['unsup_' + k] == pytest.approx(2.0 * v, rel=1e-5)


def test_whole_batch_without_any_pseudo_box_still_runs_the_student():
    model = build(unsup_images='all', unsup_norm='pseudo_density')
    set_iter(model, 10)
    x, _ = _batch()
    calls = []
    model.student.register_forward_pre_hook(lambda *a: calls.append(1))
    orig = model.student.loss
    model.student.loss = lambda *a, **k: (calls.append('loss'), orig(*a, **k))[1]
    losses = model.unsup_loss(x, [sample(), sample()], sup_density=3.0)
    assert 'loss' in calls  # the same collectives on every rank, weight 0
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert float(total) == 0.0
    total.backward()


def test_classification_only_terms():
    model = build(unsup_loss_terms=['loss_cls', 'loss_obj'])
    set_iter(model, 10)
    x, gt = _batch()
    losses = model.unsup_loss(x, copy.deepcopy(gt))
    ref = loss_values(model.student.loss(x, copy.deepcopy(gt)))
    assert float(losses['unsup_loss_bbox']) == 0.0
    assert losses['unsup_loss_bbox'].requires_grad  # still in the graph
    assert float(losses['unsup_loss_cls']) == pytest.approx(ref['loss_cls'], rel=1e-5)
    assert float(losses['unsup_loss_obj']) == pytest.approx(ref['loss_obj'], rel=1e-5)


def test_uncertain_teacher_boxes_become_regions():
    model = build(uncertain_thr=0.2, pseudo_filters=[dict(type='ScoreThreshold', thr=0.5)])
    pseudo = sample([[8, 8, 30, 30], [34, 30, 60, 58], [0, 0, 5, 5]], [3, 5, 1],
                    scores=[0.9, 0.3, 0.1])
    out = model.pseudo_labeler.project([pseudo.gt_instances], [sample()])
    assert out.kept[0].labels.tolist() == [3]
    assert out.uncertain[0].scores.tolist() == pytest.approx([0.9, 0.3])


@pytest.mark.parametrize('name', sorted(DETECTORS))
def test_regions_on_every_dense_head(name):
    """For YOLOX, RetinaNet, FCOS and RTMDet: weight-1 regions give exactly the head's own
    loss; a weight-0 region over the whole image and no pseudo box stops every gradient;
    a weight-0 region on part of the image changes the gradient but not the loss value."""
    model = build(DETECTORS[name], uncertain_thr=0.1, unsup_images='all')
    set_iter(model, 10)
    x, gt = _batch()

    def run(weight, boxes):
        model.semi_train_cfg['uncertain_weight'] = weight
        model.student.zero_grad()
        samples = copy.deepcopy(gt)
        regions = [InstanceData(bboxes=torch.tensor(boxes).reshape(-1, 4),
                                scores=torch.full((len(boxes), ), 0.3)) for _ in samples]
        losses = model.unsup_loss(x, samples, uncertain=regions)
        total_loss(losses).backward()
        grads = torch.cat([p.grad.flatten() for p in model.student.parameters()
                           if p.grad is not None])
        return loss_values(losses), grads

    ref = loss_values(model.student.loss(x, copy.deepcopy(gt)))
    full, g_full = run(1.0, [[0., 0., 64., 64.]])
    for k, v in ref.items():
        assert full['unsup_' + k] == pytest.approx(v, rel=1e-4)
    part, g_part = run(0.0, [[40., 0., 64., 24.]])
    for k, v in ref.items():
        assert part['unsup_' + k] == pytest.approx(v, rel=1e-4)
    assert not torch.allclose(g_part, g_full)
    # the soft weight 1 - 0.3 lies between the two
    soft, g_soft = run('soft', [[40., 0., 64., 24.]])
    assert not torch.allclose(g_soft, g_full) and not torch.allclose(g_soft, g_part)
    # everything ignored, no pseudo boxes: nothing trains
    model.semi_train_cfg['uncertain_weight'] = 0.0
    model.student.zero_grad()
    empty = [sample(), sample()]
    regions = [InstanceData(bboxes=torch.tensor([[0., 0., 64., 64.]]),
                            scores=torch.tensor([0.3])) for _ in empty]
    total_loss(model.unsup_loss(x, empty, uncertain=regions)).backward()
    assert all(p.grad is None or float(p.grad.abs().max()) == 0.0
               for p in model.student.parameters())


def test_regions_need_a_dense_head(tmp_path):
    """A two-stage detector (Faster R-CNN) has no dense head to weight: a clear error."""
    cfg = tmp_path / 'frcnn.py'
    cfg.write_text("_base_ = ['mmdet::_base_/models/faster-rcnn_r50_fpn.py']\n")
    frcnn = Config.fromfile(str(cfg)).model
    frcnn.backbone.update(depth=18, init_cfg=None)
    frcnn.neck.in_channels = [64, 128, 256, 512]
    frcnn.roi_head.bbox_head.num_classes = 10
    model = build(frcnn, uncertain_thr=0.1)
    x, gt = _batch()
    with pytest.raises(KeyError, match='uncertain_thr needs a single-stage detector.*FasterRCNN'):
        model.unsup_loss(x, copy.deepcopy(gt))


def test_source_free_batch_without_a_labeled_branch():
    """labeled_branch='none' (source-free adaptation): a batch of the unlabeled branches only
    trains the student on pseudo labels alone; the same batch is refused by the default
    config, and the settings that need labeled data are configuration errors."""
    model = build(labeled_branch='none', oracle=dict())
    set_iter(model, 10)
    x, gt = _batch()
    inputs = dict(unsup_teacher=x.clone(), unsup_student=x.clone())
    samples = dict(unsup_teacher=copy.deepcopy(gt), unsup_student=copy.deepcopy(gt))
    losses = model.loss(inputs, samples)
    assert not any(k.startswith('sup_') for k in losses)
    ref = loss_values(model.student.loss(x, copy.deepcopy(gt)))
    for k, v in ref.items():  # the oracle's pseudo labels: the supervised loss of the view
        assert loss_values(losses)['unsup_' + k] == pytest.approx(v, rel=1e-5)
    total_loss(losses).backward()
    assert any(p.grad is not None and float(p.grad.abs().sum()) > 0
               for p in model.student.parameters())
    # nothing kept (recall 0): zero losses, still connected, without a labeled loss to copy
    empty = build(labeled_branch='none', oracle=dict(recall=0.0))
    losses = empty.loss(inputs, copy.deepcopy(samples))
    assert float(total_loss(losses)) == 0.0 and losses['unsup_loss_cls'].requires_grad
    with pytest.raises(KeyError, match=r"lacks branch\(es\) \['sup'\].*labeled_branch='none'"):
        build(oracle=dict()).loss(inputs, copy.deepcopy(samples))
    for bad in (dict(burn_in_iters=5), dict(unsup_norm='pseudo_density'),
                dict(unsup_weight=0.0)):
        with pytest.raises(KeyError, match=r"labeled_branch='none' \(source-free\)"):
            build(labeled_branch='none', **bad)


def test_labeled_branch_from_another_domain_runs_in_its_own_pass():
    """labeled_branch='other_domain': labeled images of another size (another dataset) and the
    unlabeled batch train together, in two backbone passes even where a joint pass is asked
    for (no normalisation statistic mixes the domains)."""
    model = build(labeled_branch='other_domain', oracle=dict(), joint_student_forward=True)
    set_iter(model, 10)
    assert not model.joint_student_forward()
    x, gt = _batch()
    src = torch.rand(1, 3, 96, 96) * 255
    src_gt = [sample([[10, 10, 60, 70]], [4], size=96)]
    passes = []
    model.student.backbone.register_forward_hook(lambda m, a, o: passes.append(a[0].shape))
    losses = model.loss(dict(sup=src, unsup_teacher=x.clone(), unsup_student=x.clone()),
                        dict(sup=src_gt, unsup_teacher=copy.deepcopy(gt),
                             unsup_student=copy.deepcopy(gt)))
    assert [tuple(s) for s in passes] == [(1, 3, 96, 96), (2, 3, 64, 64)]
    assert losses['sup_loss_cls'] > 0 and losses['unsup_loss_cls'] > 0
    total_loss(losses).backward()
    with pytest.raises(KeyError, match='labeled_branch must be one of'):
        build(labeled_branch='source')
