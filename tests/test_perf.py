"""Issue 17's CPU side: the device helpers, one gather per image for elementwise filter runs,
the teacher's pass under AMP and inference mode, a sup-only batch in the burn-in, and the
semi-iteration benchmark's CPU mode (correctness only; no timing is asserted)."""
import json
import os.path as osp
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.structures import InstanceData

from conftest import REPO
from mtkit.filters import FilterChain
from mtkit.registry import MODELS
from mtkit.utils.device import device_scalar, host_to_device, take
from mtkit.utils.errors import ConfigKeyError

sys.path.insert(0, osp.join(REPO, 'benchmarks'))
import semi_iteration  # noqa: E402

DET_CFG = Config.fromfile(osp.join(REPO, 'configs/_base_/models/yolox_tiny_digitscenes.py'))


def test_device_helpers():
    s = device_scalar(3, 'cpu')
    assert s.shape == () and s.dtype == torch.float32 and s.item() == 3.0
    m = host_to_device(np.eye(3)[None].repeat(2, 0), 'cpu')
    assert m.shape == (2, 3, 3) and m.dtype == torch.float32 and torch.equal(m[1], torch.eye(3))
    inst = InstanceData(bboxes=torch.arange(12.).view(3, 4), scores=torch.tensor([.1, .9, .5]),
                        labels=torch.tensor([0, 1, 2]))
    kept = take(inst, inst.scores > 0.3)
    assert kept.labels.tolist() == [1, 2] and kept.bboxes[0].tolist() == [4., 5., 6., 7.]
    assert len(take(inst, torch.zeros(3, dtype=torch.bool))) == 0
    with pytest.raises(TypeError, match='bool mask'):
        take(inst, torch.tensor([0, 2]))


def _instances(n, seed):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * 50
    wh = torch.rand(n, 2, generator=g) * 6
    return InstanceData(bboxes=torch.cat([xy, xy + wh], 1), scores=torch.rand(n, generator=g),
                        labels=torch.randint(0, 4, (n, ), generator=g))


@pytest.mark.parametrize('filters', [
    [dict(type='ScoreThreshold', thr=0.4), dict(type='MinBoxSize', min_size=2)],
    [dict(type='ScoreThreshold', thr=[0.2, 0.5, 0.7, 0.3]), dict(type='NMSFilter', iou_thr=0.3),
     dict(type='MinBoxSize', min_size=(1, 3)), dict(type='ScoreThreshold', thr=0.5)],
])
def test_elementwise_runs_keep_what_one_by_one_keeps(filters):
    chain = FilterChain(filters)
    batch = [_instances(n, seed) for seed, n in enumerate((0, 7, 40))]
    expected = batch
    for f in chain.filters:  # applied one after the other, each on the survivors
        expected = f.filter_batch(expected, {})
    got = chain(batch)
    for e, g in zip(expected, got):
        assert torch.equal(e.bboxes, g.bboxes) and torch.equal(e.labels, g.labels)
        assert torch.equal(e.scores, g.scores)
    assert [f.elementwise for f in chain.filters][:2] == [True, filters[1]['type'] != 'NMSFilter']


@pytest.fixture
def mmdet_scope():
    with DefaultScope.overwrite_default_scope('mmdet'):
        yield


def _sample(size=64):
    from mmdet.structures import DetDataSample
    s = DetDataSample(metainfo=dict(
        img_shape=(size, size), ori_shape=(size, size), scale_factor=(1.0, 1.0),
        homography_matrix=np.array([[-1, 0, size], [0, 1, 0], [0, 0, 1]], np.float32)))
    s.gt_instances = InstanceData(bboxes=torch.tensor([[8., 8., 40., 40.]]),
                                  labels=torch.tensor([3]))
    return s


def test_teacher_pass_under_autocast_gives_float32_pseudo_labels(mmdet_scope):
    """Under bf16 autocast the teacher's head outputs go to NMS in float32 (mmcv's NMS takes
    no bf16); the pseudo labels are ordinary float32 tensors (cloned out of inference mode),
    usable in the student's graph."""
    torch.manual_seed(0)
    model = MODELS.build(dict(type='MeanTeacherDetector', detector=DET_CFG.detector,
                              semi_train_cfg=dict(pseudo_thr=0.0)))
    model.init_weights()  # as MMEngine's runner does (the head's prior-probability biases)
    model.teacher.bbox_head.test_cfg.score_thr = 0.0
    x = torch.rand(2, 3, 64, 64) * 255
    with torch.autocast('cpu', dtype=torch.bfloat16):
        boxes = model.teacher_boxes('teacher', x, [_sample(), _sample()])
    for inst in boxes:
        assert len(inst) > 0 and inst.bboxes.dtype == torch.float32
        assert not inst.bboxes.is_inference() and not inst.scores.is_inference()
        # mapped out of the flipped view into the original frame (x -> 64 - x)
        assert bool((inst.bboxes[:, 0] <= inst.bboxes[:, 2]).all())
    student = model.pseudo_labeler.project(boxes, [_sample(), _sample()])
    assert all(n > 0 for n in student.counts)


def test_sup_only_batch_during_burn_in_and_named_branches_after(mmdet_scope):
    torch.manual_seed(0)
    model = MODELS.build(dict(type='MeanTeacherDetector', detector=DET_CFG.detector,
                              semi_train_cfg=dict(burn_in_iters=5)))
    model.train()
    x = torch.rand(1, 3, 64, 64) * 255
    model.set_train_iter(2)
    losses = model.loss(dict(sup=x), dict(sup=[_sample()]))
    assert losses['unsup_weight'].item() == 0.0 and 'unsup_loss_cls' in losses
    model.set_train_iter(5)
    with pytest.raises(ConfigKeyError, match=r"lacks branch\(es\) \['unsup_teacher', "
                                             r"'unsup_student'\]"):
        model.loss(dict(sup=x), dict(sup=[_sample()]))


def test_semi_iteration_benchmark_cpu_mode(tmp_path):
    """Every arm trains (finite losses, the teacher follows the student), the ratios are
    computed, and mtkit's own host reads per step are the ones it cannot avoid: one gather
    per unlabeled image (its pseudo boxes' count) and, on CPU only, the NaN check (a device
    assertion on a GPU)."""
    out = tmp_path / 'bench.json'
    rows = semi_iteration.main(['--device', 'cpu', '--models', 'yolox_s', '--images', '2',
                                '--size', '64', '--reps', '1', '--warmup', '0',
                                '--precisions', 'fp32', 'amp', '--json', str(out),
                                '--markdown', str(tmp_path / 'bench.md'), '--strict'])
    # AMP is skipped for mmdet detectors on CPU; YOLOX trains BN, so 'auto' keeps two passes
    # and the joint pass is its own arm
    assert [r['arm'] for r in rows] == ['supervised', 'mtkit_mt', 'mtkit_joint', 'mmdet_mt']
    assert [r['joint'] for r in rows] == [None, False, True, None]
    for r in rows:
        assert r['losses_finite'] and r['ms'] > 0
        assert r['vs_supervised'] == pytest.approx(r['ms'] / rows[0]['ms'])
    for r in rows[1:]:
        assert r['teacher_updated'] and 'unsup_loss_cls' in r['loss_keys']
    # 1 unlabeled image + the CPU NaN check
    assert rows[1]['mtkit_host_reads'] == rows[2]['mtkit_host_reads'] == 1 + 1
    assert rows[0]['mtkit_host_reads'] == rows[3]['mtkit_host_reads'] == 0
    saved = json.loads(out.read_text())
    assert len(saved['rows']) == 4 and '| yolox_s | mtkit_joint | fp32 |' in \
        (tmp_path / 'bench.md').read_text()


@pytest.mark.slow
def test_semi_iteration_benchmark_cpu_mode_segmentation(tmp_path):
    rows = semi_iteration.main(['--device', 'cpu', '--models', 'deeplabv3plus', '--images', '4',
                                '--size', '32', '64', '--reps', '1', '--warmup', '0',
                                '--strict'])
    assert [(r['arm'], r['precision']) for r in rows] == [
        ('supervised', 'fp32'), ('mtkit_mt', 'fp32'), ('supervised', 'amp'), ('mtkit_mt', 'amp')]
    for r in rows:
        assert r['losses_finite']
    assert rows[1]['teacher_updated'] and rows[3]['amp_vs_fp32'] is not None
    assert rows[1]['mtkit_host_reads'] == 2  # the two CPU NaN checks, nothing else


def _retinanet_r18():
    """mmdet's RetinaNet-R50-FPN config at ResNet-18 size: BN frozen (norm_eval), no BN in
    the FPN, as mmdet's R50 detectors."""
    import mmdet
    cfg = Config.fromfile(osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs', '_base_',
                                   'models', 'retinanet_r50_fpn.py')).model
    cfg.backbone.update(depth=18, init_cfg=None)
    cfg.neck.in_channels = [64, 128, 256, 512]
    cfg.bbox_head.num_classes = 4
    return cfg


def _oracle_batch(sup_hw, unsup_hw, empty_second=False):
    from mmdet.structures import DetDataSample
    g = torch.Generator().manual_seed(0)

    def samples(n, hw, empty=()):
        out = []
        for i in range(n):
            s = DetDataSample(metainfo=dict(img_shape=hw, ori_shape=hw, scale_factor=(1., 1.),
                                            pad_shape=hw, batch_input_shape=hw,
                                            homography_matrix=np.eye(3, dtype=np.float32)))
            s.gt_instances = InstanceData(bboxes=torch.tensor([[4., 6., 30., 40.],
                                                               [20., 10., 50., 28.]]),
                                          labels=torch.tensor([1, 3]))
            if i in empty:
                s.gt_instances = s.gt_instances[:0]
            out.append(s)
        return out

    return (dict(sup=torch.randn(2, 3, *sup_hw, generator=g),
                 unsup_teacher=torch.randn(2, 3, *unsup_hw, generator=g),
                 unsup_student=torch.randn(2, 3, *unsup_hw, generator=g)),
            dict(sup=samples(2, sup_hw), unsup_teacher=samples(2, unsup_hw),
                 unsup_student=samples(2, unsup_hw, (1, ) if empty_second else ())))


@pytest.mark.parametrize('unsup_hw,empty_second', [((64, 64), False), ((64, 96), False),
                                                   ((64, 64), True)])
def test_joint_student_forward_equals_two_passes_with_frozen_bn(mmdet_scope, unsup_hw,
                                                                empty_second):
    """With frozen BN (mmdet's R50 detectors), one backbone/neck pass over both branches gives
    the losses and gradients of two passes. Branches of different sizes are both padded to the
    larger one, exactly as if the smaller branch had been batched with larger images (mmdet's
    batch padding: not the same numbers as the unpadded pass near the image border, since a
    BN-shifted padding region feeds the border convolutions). An unlabeled image without
    pseudo boxes is left out of the joint pass, as out of the second pass."""
    import copy

    import torch.nn.functional as F
    results = []
    for joint in (False, True):
        torch.manual_seed(0)
        model = MODELS.build(dict(type='MeanTeacherDetector', detector=_retinanet_r18(),
                                  semi_train_cfg=dict(oracle=dict(), joint_student_forward=joint)))
        model.train()
        assert model.joint_student_forward() is joint
        inputs, samples = _oracle_batch((64, 64), unsup_hw, empty_second)
        if not joint and unsup_hw != (64, 64):  # the two-pass reference, batch-padded alike
            inputs['sup'] = F.pad(inputs['sup'], (0, unsup_hw[1] - 64, 0, unsup_hw[0] - 64))
            for s in samples['sup']:
                s.set_metainfo(dict(batch_input_shape=unsup_hw))
        sizes = []
        model.student.backbone.register_forward_hook(lambda m, a, o: sizes.append(a[0].shape[0]))
        total, log_vars = model.parse_losses(model.loss(inputs, copy.deepcopy(samples)))
        unsup = 1 if empty_second else 2
        assert sizes == ([2 + unsup] if joint else [2, unsup])  # backbone passes, images each
        total.backward()
        grads = [p.grad.clone() for p in model.student.parameters() if p.grad is not None]
        results.append((log_vars, grads))
    (l0, g0), (l1, g1) = results
    assert l0.keys() == l1.keys() and 'unsup_loss_cls' in l0
    for k in l0:
        torch.testing.assert_close(l1[k], l0[k], rtol=1e-5, atol=1e-6)
    assert len(g0) == len(g1) > 0
    for a, b in zip(g0, g1):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-6)


def test_joint_student_forward_auto_and_errors(mmdet_scope):
    frozen = MODELS.build(dict(type='MeanTeacherDetector', detector=_retinanet_r18()))
    frozen.train()
    assert frozen.joint_student_forward()  # R18 norm_eval, FPN without BN
    yolox = MODELS.build(dict(type='MeanTeacherDetector', detector=DET_CFG.detector))
    yolox.train()
    assert not yolox.joint_student_forward()  # CSPDarknet BN trains: kept as two passes
    yolox.update_train_cfg(joint_student_forward=True)
    assert yolox.joint_student_forward()
    with pytest.raises(ConfigKeyError, match="joint_student_forward must be one of"):
        MODELS.build(dict(type='MeanTeacherDetector', detector=DET_CFG.detector,
                          semi_train_cfg=dict(joint_student_forward='yes')))
    from mtkit.models.det.student_pass import detector_loss
    x = torch.zeros(2, 3, 32, 32)
    with pytest.raises(RuntimeError, match='features of 3 images for a batch of 2'):
        detector_loss(yolox.student, x, [], (torch.zeros(3, 8, 4, 4), ))
    assert 'extract_feat' not in vars(yolox.student)  # nothing is patched


def test_cuda_sync_warnings_are_charged_to_the_calling_file():
    """On CUDA the benchmark charges each sync warning to the file whose code made it, past
    the warnings machinery and torch's own layers (checked here with warnings raised from a
    frame that stands for mtkit's code and from one that stands for mmdet's)."""
    import warnings

    def op_in(filename):
        ns = {}
        exec(compile("import warnings\ndef op():\n    warnings.warn('called a synchronizing "
                     "CUDA operation')\n", filename, 'exec'), ns)
        return ns['op']

    mtkit_op = op_in(semi_iteration.MTKIT_DIR + 'fake_module.py')
    mmdet_op = op_in('/x/mmdet/models/head.py')
    counts = {}
    modes = []
    with semi_iteration.count_host_reads_cuda(counts, set_mode=modes.append):
        mtkit_op()
        mtkit_op()
        mmdet_op()
        warnings.warn('an unrelated warning')
    assert modes == ['warn', 'default']
    assert semi_iteration.mtkit_reads(counts) == 2 and sum(counts.values()) == 3
