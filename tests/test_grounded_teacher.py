"""Grounded Teacher on real YOLOX-tiny: the relational context trained, checkpointed and logged
in a run; the expert branch online (the same boxes as an identical teacher) and from a file
(tools/expert_predictions.py); bad experts named."""
import json
import os.path as osp

import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from mtkit.registry import MODELS
from mtkit.utils.errors import ConfigKeyError

from conftest import REPO
from helpers import replace_strings, small_run_cfg

MT = osp.join(REPO, 'configs/sfod/mt_yolox-tiny_digitscenes-fog.py')
CLASSES = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine']


def build(cfg):
    with DefaultScope.overwrite_default_scope('mmdet'):
        return MODELS.build(cfg)


@pytest.fixture(scope='module')
def source(tmp_path_factory):
    """A 'source model': YOLOX-tiny's initial weights as a plain checkpoint with its classes,
    and its config file."""
    root = tmp_path_factory.mktemp('source')
    torch.manual_seed(0)
    cfg = Config.fromfile(MT)
    model = build(cfg.model.detector)
    with torch.no_grad():  # untrained box regression decodes to inf: predict the priors
        for conv in model.bbox_head.multi_level_conv_reg:
            conv.weight.zero_()
            conv.bias.zero_()
    path = str(root / 'source.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict(dataset_meta=dict(
        classes=CLASSES))), path)
    det_cfg = Config(dict(model=cfg.model.detector.to_dict(),
                          test_dataloader=cfg.test_dataloader.to_dict(),
                          test_pipeline=cfg.test_pipeline))
    det_cfg.model['data_preprocessor'] = cfg.model.detector.data_preprocessor.to_dict()
    det_cfg.model['test_cfg']['score_thr'] = 0.0  # an untrained detector scores ~1e-4
    det_cfg.test_dataloader.dataset.pipeline = cfg.test_pipeline
    cfg_file = str(root / 'detector.py')
    det_cfg.dump(cfg_file)
    return path, cfg_file


def model_with(**semi):
    cfg = Config.fromfile(MT)
    cfg.model.semi_train_cfg.update(semi)
    return build(cfg.model)


def fake_batch(n=2, size=64):
    torch.manual_seed(1)
    inputs = torch.randn(n, 3, size, size)
    samples = []
    for i in range(n):
        s = DetDataSample(metainfo=dict(img_id=i + 1, img_shape=(size, size),
                                        ori_shape=(size, size), scale_factor=(1.0, 1.0),
                                        batch_input_shape=(size, size),
                                        homography_matrix=torch.eye(3).numpy()))
        samples.append(s)
    return inputs, samples


def test_online_expert_identical_to_the_teacher_gives_the_teacher_boxes(source):
    ckpt, cfg_file = source
    model = model_with(expert=dict(config=cfg_file, checkpoint=ckpt, score_thr=0.0))
    state = torch.load(ckpt, map_location='cpu', weights_only=True)['state_dict']
    model.load_state_dict(state, strict=False)  # a plain checkpoint fills student and teacher
    model.student.bbox_head.test_cfg.score_thr = model.teacher.bbox_head.test_cfg.score_thr = 0
    model.expert.model.bbox_head.test_cfg.score_thr = 0.0
    inputs, samples = fake_batch()
    teacher = model.teacher_boxes('teacher', inputs, samples)
    expert = model.expert.boxes(
        lambda m, name, x, s: model.pseudo_labeler.predict(m, name, x, s, model.check_finite),
        inputs, samples)
    assert len(teacher) == len(expert) == 2 and len(teacher[0]) > 0
    for t, e in zip(teacher, expert):
        assert torch.equal(t.bboxes, e.bboxes) and torch.equal(t.labels, e.labels)
    assert model.expert.classes == CLASSES
    assert not any(k.startswith('expert') for k in model.state_dict())  # not checkpointed


def test_bad_experts_are_named(source, tmp_path):
    ckpt, cfg_file = source
    with pytest.raises(ConfigKeyError, match='needs both config and checkpoint'):
        model_with(expert=dict(config=cfg_file))
    with pytest.raises(ConfigKeyError, match='either config and checkpoint .* or predictions'):
        model_with(expert=dict(config=cfg_file, checkpoint=ckpt, predictions=ckpt))
    with pytest.raises(ConfigKeyError, match=r"expert.predictions: '.*nope.json' is not a file"):
        model_with(expert=dict(predictions=str(tmp_path / 'nope.json')))
    # an expert with other classes: a 3-class detector
    other = Config.fromfile(cfg_file)
    other.model.bbox_head.num_classes = 3
    other_file = str(tmp_path / 'three.py')
    other.dump(other_file)
    three = build(other.model)
    three_ckpt = str(tmp_path / 'three.pth')
    torch.save(dict(state_dict=three.state_dict(), meta={}), three_ckpt)
    with pytest.raises(ConfigKeyError, match='the expert predicts 3 classes .* the student 10'):
        model_with(expert=dict(config=other_file, checkpoint=three_ckpt))
    # a file of another class list, or malformed
    bad = tmp_path / 'bad.json'
    bad.write_text(json.dumps(dict(classes=['a', 'b'], predictions={})))
    with pytest.raises(ConfigKeyError, match='the expert predicts 2 classes'):
        model_with(expert=dict(predictions=str(bad)))
    bad.write_text(json.dumps(dict(classes=CLASSES, predictions={'1': dict(
        bboxes=[[0, 0, 1, 1]], scores=[0.5], labels=[12])})))
    with pytest.raises(ConfigKeyError, match=r'labels outside 0..9'):
        model_with(expert=dict(predictions=str(bad)))
    # a normalisation other than the model's (online experts read the teachers' inputs)
    other = Config.fromfile(cfg_file)
    other.model.data_preprocessor.update(mean=[0.0, 0.0, 0.0], std=[255.0, 255.0, 255.0])
    other.dump(other_file)
    with pytest.raises(ConfigKeyError, match='normalises with mean'):
        model_with(expert=dict(config=other_file, checkpoint=ckpt))


def fog_cfg(root, work_dir, max_iters):
    cfg = Config.fromfile(MT)
    cfg = Config(replace_strings(cfg._cfg_dict.to_dict(), 'data/digitscenes_fog/coco/',
                                 osp.join(root, 'coco') + '/'))
    cfg = small_run_cfg(cfg, work_dir, max_iters, val=False)
    cfg.train_dataloader.batch_size = 2
    cfg.model.detector.test_cfg.score_thr = 0.0
    cfg.model.semi_train_cfg.pseudo_filters[0]['thr'] = 0.0
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False, interval=2)
    return cfg


@pytest.mark.slow
def test_grounded_teacher_run_with_expert_file_and_relational_context(
        digitscenes_fog, source, tmp_path):
    """tools/expert_predictions.py writes the source model's boxes on the target train split;
    a source-free run with the relational context and that expert file trains both losses, and
    the relation matrix moves, is logged and is in the checkpoint. An expert file with other
    class names stops the run before it starts."""
    from tools import expert_predictions
    ckpt, cfg_file = source
    out = str(tmp_path / 'expert.json')
    ann = osp.join(digitscenes_fog, 'coco', 'annotations', 'instances_train-unlabeled.json')
    assert expert_predictions.main([cfg_file, ckpt, '--ann-file', ann, '--img-dir',
                                    osp.join(digitscenes_fog, 'coco', 'train'), '--out', out,
                                    '--score-thr', '0.0']) == 0
    data = json.loads(open(out).read())
    assert data['classes'] == CLASSES and len(data['predictions']) == 8
    assert all(len(p['scores']) > 0 for p in data['predictions'].values())
    cfg = fog_cfg(digitscenes_fog, str(tmp_path / 'run'), 2)
    cfg.load_from = ckpt
    cfg.model.semi_train_cfg.update(
        relational_context=dict(alpha=0.5), expert=dict(predictions=out, score_thr=0.0),
        semantic_augmentation=dict(prob=1.0, bank_thr=0.0, min_size=2))
    runner = Runner.from_cfg(cfg)
    runner.train()
    scalars = runner.message_hub.log_scalars
    assert 'train/expert_loss_cls' in scalars and 'train/unsup_loss_cls' in scalars
    assert scalars['train/expert_boxes_per_img'].current() > 0
    assert scalars['train/rcm_diag_mean'].current() > 0
    saved = torch.load(tmp_path / 'run' / 'iter_2.pth', map_location='cpu', weights_only=True)
    matrix = saved['state_dict']['relation.matrix']
    assert torch.equal(matrix, runner.model.relation.matrix) and matrix.sum() > 0
    assert 'train/sa_mixed_per_img' in scalars
    bank = saved['state_dict']['augment._extra_state']['bank']  # the crop bank resumes too
    assert sum(len(b) for b in bank) == sum(runner.model.augment.bank_sizes()) > 0
    renamed = dict(data, classes=[c.upper() for c in CLASSES])
    (tmp_path / 'renamed.json').write_text(json.dumps(renamed))
    cfg = fog_cfg(digitscenes_fog, str(tmp_path / 'run2'), 1)
    cfg.load_from = ckpt
    cfg.model.semi_train_cfg.expert = dict(predictions=str(tmp_path / 'renamed.json'))
    with pytest.raises(ConfigKeyError, match=r"expert has the classes \['ZERO'"):
        Runner.from_cfg(cfg).train()


def test_expert_predictions_tool_refuses_non_finite_boxes(digitscenes_fog, source, tmp_path):
    from tools import expert_predictions
    _, cfg_file = source
    torch.manual_seed(0)
    raw = build(Config.fromfile(cfg_file).model)  # untrained box regression: inf boxes
    ckpt = str(tmp_path / 'raw.pth')
    torch.save(dict(state_dict=raw.state_dict(), meta={}), ckpt)
    ann = osp.join(digitscenes_fog, 'coco', 'annotations', 'instances_train-unlabeled.json')
    with pytest.raises(SystemExit, match='non-finite boxes or scores on .*000001.png'):
        expert_predictions.main([cfg_file, ckpt, '--ann-file', ann, '--img-dir',
                                 osp.join(digitscenes_fog, 'coco', 'train'),
                                 '--out', str(tmp_path / 'x.json'), '--score-thr', '0'])
    assert not (tmp_path / 'x.json').exists()


def test_student_features_shared_by_the_unlabeled_losses(tmp_path):
    """With an expert (and no semantic mixing) the student's backbone runs once on the
    unlabeled view: the expert loss gets the whole batch's features, the unsupervised loss the
    kept images' rows of them; with mixing, each loss computes its own."""
    expert = tmp_path / 'expert.json'
    expert.write_text(json.dumps(dict(classes=CLASSES, predictions={})))
    model = model_with(expert=dict(predictions=str(expert)))
    inputs, samples = fake_batch(n=3)
    batch = dict(unsup_student=inputs)
    sup_x, unsup_x, expert_x = model.student_features(batch, {}, samples, [0, 1, 2], False)
    assert sup_x is None and unsup_x is expert_x and expert_x[0].shape[0] == 3
    _, unsup_x, expert_x = model.student_features(batch, {}, samples, [2], False)
    assert unsup_x[0].shape[0] == 1 and torch.equal(unsup_x[0][0], expert_x[0][2])
    _, unsup_x, expert_x = model.student_features(batch, {}, samples, [], False)
    assert unsup_x is None and expert_x[0].shape[0] == 3
    mixing = model_with(expert=dict(predictions=str(expert)), semantic_augmentation=dict())
    assert mixing.student_features(batch, {}, samples, [0, 1, 2], False) == (None, None, None)
