"""Source-free domain-adaptive detection: DigitScenes-Fog, the per-severity metric, PETS'
exchange hook and consensus, the source-free run's checks, on real YOLOX-tiny runners."""
import glob
import json
import os.path as osp
import types

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from mtkit.generate.digitscenes_fog import (DigitScenesFogConfig, class_frequencies,
                                            generate_fog)
from mtkit.hooks import PeriodicExchangeHook
from mtkit.hooks.periodic_exchange_hook import exchanges_before
from mtkit.registry import MODELS
from mtkit.teachers import build_ema_plan, swap_teacher_and_student_
from mtkit.utils.errors import ConfigKeyError

from conftest import REPO
from helpers import replace_strings, small_run_cfg

PETS = osp.join(REPO, 'configs/sfod/pets_yolox-tiny_digitscenes-fog.py')
MT = osp.join(REPO, 'configs/sfod/mt_yolox-tiny_digitscenes-fog.py')


def load(path):
    with open(path) as f:
        return json.load(f)


# ---------------------------------------------------------------------------- the data
def test_class_frequencies_fall_geometrically_by_the_imbalance():
    p = class_frequencies(list(range(10)), 10.0)
    assert p.sum() == pytest.approx(1.0)
    assert p[0] / p[9] == pytest.approx(10.0)
    assert p[0] / p[1] == pytest.approx(10 ** (1 / 9))  # geometric steps
    p = class_frequencies([9, 8, 7, 6, 5, 4, 3, 2, 1, 0], 10.0)
    assert p[9] / p[0] == pytest.approx(10.0)  # the order names the commonest first
    assert class_frequencies(list(range(10)), 1.0) == pytest.approx(np.full(10, 0.1))


def test_fog_layout_ids_severities_and_held_out_train_labels(digitscenes_fog):
    ann = osp.join(digitscenes_fog, 'coco', 'annotations')
    meta = load(osp.join(digitscenes_fog, 'meta.json'))
    assert meta['splits']['val'] == dict(meta['splits']['val'], images=6, scenes=3)
    train, unlabeled = load(osp.join(ann, 'instances_train.json')), \
        load(osp.join(ann, 'instances_train-unlabeled.json'))
    assert [im['id'] for im in train['images']] == list(range(1, 9))
    assert unlabeled['annotations'] == [] and unlabeled['images'] == train['images']
    assert {im['fog_severity'] for im in train['images']} <= {1, 5}
    assert len(train['annotations']) == meta['splits']['train']['objects'] > 0
    val = load(osp.join(ann, 'instances_val.json'))
    # one image id per (severity, scene), the same boxes at each severity
    ids = sorted(im['id'] for im in val['images'])
    assert ids == [100001, 100002, 100003, 500001, 500002, 500003]
    for sev in (1, 5):
        part = load(osp.join(ann, f'instances_val_fog{sev}.json'))
        assert {im['fog_severity'] for im in part['images']} == {sev}
        assert all(osp.isfile(osp.join(digitscenes_fog, 'coco', 'val', im['file_name']))
                   for im in part['images'])
    boxes = {sev: sorted((a['image_id'] % 100000, tuple(a['bbox']), a['category_id'])
                         for a in val['annotations'] if a['image_id'] // 100000 == sev)
             for sev in (1, 5)}
    assert boxes[1] == boxes[5]
    # each val image is the fog corruption, at its severity, of one rendered scene
    import cv2
    from mtkit.generate.corruptions import CORRUPTIONS, corrupt, corruption_seed
    from mtkit.generate.digitscenes import (DigitScenesConfig, digit_pools, load_digits,
                                            load_photos, make_scene)
    digits, labels = load_digits()
    scene_cfg = DigitScenesConfig(seed=0, img_size=64)
    pool = digit_pools(len(digits), scene_cfg.pool_fractions, 0)['val']
    clean, _, _ = make_scene(np.random.default_rng([0, 101]), digits, labels, pool,
                             load_photos(), scene_cfg)
    for sev in (1, 5):
        written = cv2.imread(osp.join(digitscenes_fog, 'coco', 'val', f'fog{sev}', '000001.png'))
        expected = corrupt(clean, 'fog', sev,
                           seed=corruption_seed(1, CORRUPTIONS.index('fog'), sev, 0))
        assert np.array_equal(written[..., ::-1], expected), sev


def test_fog_generator_is_deterministic_and_checks_its_config(tmp_path):
    cfg = DigitScenesFogConfig(num_images=dict(train=3), severities=(2, ), img_size=64)
    generate_fog(str(tmp_path / 'a'), cfg)
    generate_fog(str(tmp_path / 'b'), cfg)
    for name in ('annotations/instances_train.json', 'train/000002.png'):
        with open(tmp_path / 'a' / 'coco' / name, 'rb') as a, \
                open(tmp_path / 'b' / 'coco' / name, 'rb') as b:
            assert a.read() == b.read(), name
    for bad, match in ((dict(severities=(0, 3)), 'severities'), (dict(imbalance=0.5), 'imbalance'),
                       (dict(class_order=(0, 1)), 'class_order'),
                       (dict(num_images=dict(unlabeled=3)), 'num_images')):
        with pytest.raises(ValueError, match=match):
            generate_fog(str(tmp_path / 'c'), DigitScenesFogConfig(**bad))


def test_imbalanced_train_split_follows_the_class_order(tmp_path):
    cfg = DigitScenesFogConfig(num_images=dict(train=150), severities=(1, ), img_size=64,
                               class_order=tuple(range(10)), imbalance=10.0)
    meta = generate_fog(str(tmp_path), cfg)
    counts = list(meta['splits']['train']['objects_per_class'].values())
    assert counts[0] > 4 * counts[9]  # ~10:1 expected, drawn from ~500 objects
    assert meta['rarest'] == ['seven', 'eight', 'nine']


# ---------------------------------------------------------------------------- the metric
def test_grouped_coco_metric_per_severity_and_rare_classes(digitscenes_fog):
    from mtkit.evaluation import GroupedCocoMetric
    ann_file = osp.join(digitscenes_fog, 'coco', 'annotations', 'instances_val.json')
    coco = load(ann_file)
    classes = tuple(c['name'] for c in coco['categories'])
    metric = GroupedCocoMetric(group_key='fog_severity', ann_file=ann_file, metric='bbox',
                               rare_classes=('one', 'two'))
    metric.dataset_meta = dict(classes=classes)
    by_img = {}
    for a in coco['annotations']:
        by_img.setdefault(a['image_id'], []).append(a)
    for im in coco['images']:
        anns = by_img.get(im['id'], [])
        boxes = np.array([[x, y, x + w, y + h] for x, y, w, h in (a['bbox'] for a in anns)],
                         np.float32).reshape(-1, 4)
        if im['fog_severity'] == 5:  # severity 5: every box shifted by half its width
            boxes[:, [0, 2]] += (boxes[:, 2:3] - boxes[:, 0:1]) / 2
        pred = dict(bboxes=torch.from_numpy(boxes), scores=torch.ones(len(anns)),
                    labels=torch.tensor([a['category_id'] - 1 for a in anns], dtype=torch.long))
        metric.process({}, [dict(img_id=im['id'], ori_shape=(64, 64), pred_instances=pred)])
    out = metric.evaluate(len(coco['images']))
    assert out['coco/fog1_bbox_mAP'] == pytest.approx(1.0)
    assert out['coco/fog5_bbox_mAP'] < 0.2  # IoU 1/3: wrong at every threshold >= 0.5
    assert out['coco/fog1_bbox_mAP'] > out['coco/bbox_mAP'] > out['coco/fog5_bbox_mAP']
    rare = [out[f'coco/{c}_precision'] for c in ('one', 'two')]
    assert out['coco/rare_mAP'] == pytest.approx(np.nanmean(rare))
    with pytest.raises(ConfigKeyError, match='ann_file'):
        GroupedCocoMetric(group_key='fog_severity')


def test_grouped_coco_metric_of_a_model_that_predicts_nothing(digitscenes_fog):
    """A collapsed model's empty predictions: no metric (the teacher-student loops then report
    the known names as 0.0 and warn), not a KeyError on the rare classes."""
    from mtkit.evaluation import GroupedCocoMetric
    ann_file = osp.join(digitscenes_fog, 'coco', 'annotations', 'instances_val.json')
    coco = load(ann_file)
    metric = GroupedCocoMetric(group_key='fog_severity', ann_file=ann_file, metric='bbox',
                               rare_classes=('one', ))
    metric.dataset_meta = dict(classes=tuple(c['name'] for c in coco['categories']))
    for im in coco['images']:
        metric.process({}, [dict(img_id=im['id'], ori_shape=(64, 64), pred_instances=dict(
            bboxes=torch.zeros(0, 4), scores=torch.zeros(0), labels=torch.zeros(0).long()))])
    assert metric.evaluate(len(coco['images'])) == {}


def test_grouped_coco_metric_names_a_missing_group_field(digitscenes_fog, tmp_path):
    from mtkit.evaluation import GroupedCocoMetric
    coco = load(osp.join(digitscenes_fog, 'coco', 'annotations', 'instances_val.json'))
    coco['images'][1].pop('fog_severity')
    path = str(tmp_path / 'val.json')
    with open(path, 'w') as f:
        json.dump(coco, f)
    metric = GroupedCocoMetric(group_key='fog_severity', ann_file=path, metric='bbox')
    metric.dataset_meta = dict(classes=tuple(c['name'] for c in coco['categories']))
    im = coco['images'][0]
    metric.process({}, [dict(img_id=im['id'], ori_shape=(64, 64), pred_instances=dict(
        bboxes=torch.tensor([[1.0, 1.0, 20.0, 20.0]]), scores=torch.ones(1),
        labels=torch.zeros(1).long()))])
    with pytest.raises(ConfigKeyError, match=r"no 'fog_severity' field"):
        metric.evaluate(1)


# ---------------------------------------------------------------------------- the exchange
def test_swap_is_a_true_swap_of_parameters_and_buffers():
    torch.manual_seed(0)
    t, s = torch.nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)
    t.weight.data.normal_(), s.weight.data.normal_()
    s(torch.randn(4, 3))  # running statistics differ
    before = {k: (v.clone(), s.state_dict()[k].clone()) for k, v in t.state_dict().items()}
    ptr = s.weight.data_ptr()
    swap_teacher_and_student_(build_ema_plan(t, s, 'copy'))
    for k, (tv, sv) in before.items():
        assert torch.equal(t.state_dict()[k], sv) and torch.equal(s.state_dict()[k], tv), k
    assert s.weight.data_ptr() == ptr  # the student keeps its tensors (the optimizer's)
    s.weight.data.add_(1.0)
    assert torch.equal(t.weight, before['weight'][1])  # no shared storage
    assert exchanges_before(0, 250) == 0 and exchanges_before(499, 250) == 1
    assert exchanges_before(500, 250) == 2


def build(cfg):
    with DefaultScope.overwrite_default_scope('mmdet'):
        return MODELS.build(cfg)


def pets_model():
    return build(Config.fromfile(PETS).model)


def hook_on(model, mode, interval=2):
    hook = PeriodicExchangeHook(momentum=0.5, interval=interval, mode=mode)
    runner = types.SimpleNamespace(model=model, hooks=[hook], iter=0,
                                   message_hub=MessageHub.get_instance('sfod_test'),
                                   _load_from='x.pth', _resume=False, _train_loop=None)
    hook.before_train(runner)
    return hook, runner


def weights(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


def same(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize('mode', ['swap', 'copy', 'frozen'])
def test_exchange_modes_on_a_real_detector(mode):
    model = pets_model()
    hook, runner = hook_on(model, mode)
    assert hook.pairs == {'teacher': 'student', 'teacher2': 'student'}
    source = weights(model.student)
    assert same(weights(model.teacher2), source)  # every model starts from the source
    with torch.no_grad():
        for p in model.student.parameters():
            p.add_(torch.randn_like(p))  # as if trained
    trained = weights(model.student)
    hook.after_train_iter(runner, 0)  # iteration 1: the dynamic teacher's EMA step only
    assert hook.exchanges == 0 and same(weights(model.teacher2), source)
    dyn = model.teacher.backbone.stem.conv.conv.weight
    expected = 0.5 * (source['backbone.stem.conv.conv.weight']
                      + trained['backbone.stem.conv.conv.weight'])
    torch.testing.assert_close(dyn, expected)
    hook.after_train_iter(runner, 1)  # iteration 2: the exchange
    assert hook.exchanges == 1
    static, student = weights(model.teacher2), weights(model.student)
    if mode == 'swap':
        assert same(static, trained) and same(student, source)
    elif mode == 'copy':
        assert same(static, trained) and same(student, trained)
    else:
        assert same(static, source) and same(student, trained)
    assert hook.state_dict() == dict(step=2, exchanges=1, interval=2, mode=mode,
                                     pairs={'teacher': 'student', 'teacher2': 'student'})


def test_exchange_hook_config_errors():
    with pytest.raises(ConfigKeyError, match='mode'):
        PeriodicExchangeHook(mode='exchange')
    with pytest.raises(ConfigKeyError, match='interval'):
        PeriodicExchangeHook(interval=0)
    with pytest.raises(ConfigKeyError, match='must differ'):
        PeriodicExchangeHook(dynamic_teacher='teacher', static_teacher='teacher')
    cfg = Config.fromfile(MT)
    one_teacher = build(cfg.model)
    with pytest.raises(ConfigKeyError, match='two teachers of one student'):
        hook_on(one_teacher, 'swap')
    hook, _ = hook_on(pets_model(), 'swap', interval=2)
    with pytest.raises(ConfigKeyError, match='interval=3'):
        hook.load_state(dict(hook.state_dict(), interval=3))


SFOD_CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs', 'sfod', '*_digitscenes-fog.py')))


@pytest.mark.parametrize('path', SFOD_CONFIGS, ids=[osp.basename(c)[:-3] for c in SFOD_CONFIGS])
def test_source_free_configs_build(path, tmp_path):
    """Every source-free config builds its model (the mean teacher and PETS train in the runs
    below, Grounded Teacher in test_grounded_teacher.py): source-free, with the teachers its
    hooks update and the dynamic / first teacher predicting."""
    cfg = Config.fromfile(path)
    semi = cfg.model.semi_train_cfg
    assert semi.labeled_branch == 'none' and semi.burn_in_iters == 0
    # no objectness loss on pseudo labels (with it the mean teacher collapses on the foggy
    # target); the oracle is supervised on labels and trains every term
    oracle = 'oracle' in osp.basename(path)
    assert semi.unsup_loss_terms == (None if oracle else ['loss_cls', 'loss_bbox'])
    if semi.get('expert') is not None:
        expert = tmp_path / 'expert.json'
        expert.write_text(json.dumps(dict(classes=list(cfg.metainfo.classes), predictions={})))
        semi.expert.predictions = str(expert)
    model = build(cfg.model)
    assert model.semi_test_cfg['predict_on'] == 'teacher'
    hook_types = [h['type'] for h in cfg.custom_hooks]
    expected = ('mtkit.PeriodicExchangeHook' if 'pets' in osp.basename(path)
                else 'mtkit.EMATeacherHook')
    assert hook_types[0] == expected
    assert len(model.ema_teachers) == (2 if 'pets' in osp.basename(path) else 1)


# ---------------------------------------------------------------------------- real runs
def fog_cfg(path, root, work_dir, max_iters, **hook):
    cfg = Config.fromfile(path)
    cfg = Config(replace_strings(cfg._cfg_dict.to_dict(), 'data/digitscenes_fog/coco/',
                                 osp.join(root, 'coco') + '/'))
    cfg = small_run_cfg(cfg, work_dir, max_iters, val=False)
    cfg.train_dataloader.batch_size = 2
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False, interval=2)
    cfg.model.detector.test_cfg.score_thr = 0.0
    for f in cfg.model.semi_train_cfg.pseudo_filters:
        if f['type'] == 'ScoreThreshold':
            f['thr'] = 0.0  # an untrained detector is not confident: keep its boxes
    cfg.custom_hooks[0].update(hook)
    cfg.randomness = dict(seed=5, deterministic=False)
    return cfg


@pytest.fixture(scope='module')
def source_ckpt(tmp_path_factory):
    """A 'source model': a YOLOX-tiny detector's initial weights, as a plain checkpoint."""
    path = str(tmp_path_factory.mktemp('source') / 'source.pth')
    torch.manual_seed(0)
    model = build(Config.fromfile(MT).model.detector)
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)
    return path


@pytest.mark.slow
def test_pets_exact_resume_across_an_exchange(digitscenes_fog, source_ckpt, tmp_path):
    """4 iterations with an exchange every 2, straight and as 2 + a resume at the exchange,
    end with identical student, dynamic and static teachers; the run logs the exchanges."""
    def cfg(wd, n):
        c = fog_cfg(PETS, digitscenes_fog, str(tmp_path / wd), n, interval=2)
        c.load_from, c.log_level = source_ckpt, 'INFO'
        return c
    straight = Runner.from_cfg(cfg('a', 4))
    straight.train()
    assert straight.message_hub.get_scalar('train/exchanges').current() == 2
    first = Runner.from_cfg(cfg('b', 2))
    first.train()
    c = cfg('b', 4)
    c.resume, c.load_from = True, None  # the latest checkpoint of the work dir
    resumed = Runner.from_cfg(c)
    resumed.train()
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert a.keys() == b.keys() and any(k.startswith('teacher2.') for k in a)
    for k in a:
        assert torch.equal(a[k], b[k]), k
    log = open(next((tmp_path / 'a').glob('*/*.log'))).read()
    assert 'exchange 1 after iteration 2: student <-> teacher2 swapped' in log
    assert 'exchange 2 after iteration 4' in log


def test_start_checkpoint_check_by_case(tmp_path):
    from mtkit.hooks.teacher_student import check_start_checkpoint

    def runner(load_from, resume=False):
        return types.SimpleNamespace(_load_from=load_from, _resume=resume,
                                     work_dir=str(tmp_path))
    reason = "labeled_branch='none'"
    with pytest.raises(ConfigKeyError, match="load_from is not set, but labeled_branch='none'"):
        check_start_checkpoint(runner(None), reason)
    with pytest.raises(ConfigKeyError, match="no such file, and labeled_branch='none'"):
        check_start_checkpoint(runner(str(tmp_path / 'missing.pth')), reason)
    with pytest.raises(ConfigKeyError, match='load_from is not set'):
        check_start_checkpoint(runner(None, resume=True), reason)  # nothing to resume from
    (tmp_path / 'iter_4.pth').write_bytes(b'')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_4.pth'))
    check_start_checkpoint(runner(None, resume=True), reason)  # resumes from the work dir
    check_start_checkpoint(runner(str(tmp_path / 'iter_4.pth')), reason)
    check_start_checkpoint(runner('https://example.org/source.pth'), reason)  # MMEngine loads


@pytest.mark.slow
def test_source_free_run_refuses_to_start_without_its_checkpoint(digitscenes_fog, tmp_path):
    """Wired into a real run: the teacher hook stops it before any weight is loaded."""
    cfg = fog_cfg(MT, digitscenes_fog, str(tmp_path / 'a'), 1)
    cfg.load_from = None
    with pytest.raises(ConfigKeyError, match="load_from is not set, but .*labeled_branch='none'"):
        Runner.from_cfg(cfg).train()
