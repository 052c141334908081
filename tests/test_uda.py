"""Domain-adaptive segmentation: the DigitScenes-UDA benchmark (synthetic source, realistic
target) in the Cityscapes layout."""
import glob
import json
import os.path as osp

import cv2
import numpy as np
import pytest

from mtkit.generate.corruptions import CORRUPTIONS, corrupt, corruption_seed
from mtkit.generate.digitscenes import (DigitScenesConfig, digit_pools, load_digits, load_photos,
                                        make_scene)
from mtkit.generate.digitscenes_uda import (DigitScenesUDAConfig, flat_painter, generate_uda,
                                            textured_painter)

from conftest import UDA_SMALL as SMALL
from helpers import UDA_ST as ST
from helpers import uda_batch as _batch
from helpers import uda_cfg


@pytest.fixture
def uda(digitscenes_uda):
    return digitscenes_uda


def _maps(root, domain, split):
    city = 'synthville' if domain == 'source' else 'realville'
    imgs = sorted(glob.glob(osp.join(root, domain, 'leftImg8bit', split, city,
                                     '*_leftImg8bit.png')))
    gts = sorted(glob.glob(osp.join(root, domain, 'gtFine', split, city,
                                    '*_gtFine_labelTrainIds.png')))
    return imgs, gts


def test_uda_layout_label_maps_and_corruption_record(uda):
    root, meta = uda
    for domain, split, n in (('source', 'train', 4), ('source', 'val', 2), ('target', 'train', 4),
                             ('target', 'val', 3), ('target', 'test', 2)):
        imgs, gts = _maps(root, domain, split)
        assert len(imgs) == len(gts) == n, (domain, split)
        assert ([osp.basename(p).replace('_leftImg8bit', '') for p in imgs]
                == [osp.basename(p).replace('_gtFine_labelTrainIds', '') for p in gts])
        for gt in gts:
            seg = cv2.imread(gt, cv2.IMREAD_UNCHANGED)
            assert seg.shape == (64, 64) and seg.max() <= 10
        assert meta['splits'][f'{domain}/{split}']['images'] == n
        with open(osp.join(root, domain, 'splits', f'{split}.txt')) as f:
            listed = f.read().split()
        assert listed == [osp.relpath(p, osp.join(root, domain, 'leftImg8bit', split))
                          .replace('_leftImg8bit.png', '') for p in imgs]
        shares = meta['splits'][f'{domain}/{split}']['pixel_shares']
        assert sum(shares.values()) == pytest.approx(1.0, abs=1e-3)
    # the default target order is the source's reversed: its rarest are the target's commonest
    assert meta['target_order'] == meta['source_order'][::-1]
    with open(osp.join(root, 'target', 'corruptions.json')) as f:
        record = json.load(f)
    assert sorted(record) == ['test', 'train', 'val']
    assert len(record['val']) == 3
    for split in record.values():
        for name, sev in split.values():
            assert name in ('fog', 'contrast') and sev in (1, 2)


def test_uda_target_image_is_the_corruption_of_a_textured_scene(uda):
    root, _ = uda
    with open(osp.join(root, 'target', 'corruptions.json')) as f:
        name, sev = json.load(f)['val']['realville_000000_000001']
    digits, labels = load_digits()
    scene_cfg = DigitScenesConfig(seed=0, img_size=64, texture_prob=0.0)
    pool = digit_pools(len(digits), scene_cfg.pool_fractions, 0)['val']
    photos = load_photos()
    rng = np.random.default_rng([0, 200 + 10 + 1])  # target (1), val (1)
    clean, instances, _ = make_scene(rng, digits, labels, pool, photos, scene_cfg,
                                     painter=textured_painter(photos, (0.9, 1.0)))
    expected = corrupt(clean, name, sev,
                       seed=corruption_seed(0 + 10 + 1, CORRUPTIONS.index(name), sev, 0))
    imgs, gts = _maps(root, 'target', 'val')
    assert np.array_equal(cv2.imread(imgs[0])[..., ::-1], expected)
    seg = np.zeros((64, 64), np.uint8)
    for inst in instances:
        seg[inst['mask']] = inst['label'] + 1
    assert np.array_equal(cv2.imread(gts[0], cv2.IMREAD_UNCHANGED), seg)


def test_painters_flat_colour_hard_edges_and_blended_texture():
    rng = np.random.default_rng(0)
    region = np.full((5, 5, 3), 0.2, np.float32)
    shape = np.zeros((5, 5), np.float32)
    shape[1:4, 2] = [0.3, 0.6, 1.0]
    out, visible = flat_painter(rng, region, shape)
    assert visible.sum() == 2 and visible[2, 2] and visible[3, 2]  # the scan above 0.5
    colour = out[2, 2]
    assert np.allclose(out[3, 2], colour) and not np.allclose(colour, 0.2)  # one flat colour
    assert np.allclose(out[~visible], 0.2)  # hard edges: nothing else painted
    photos = [np.full((40, 40, 3), 0.5, np.float32)]
    out, visible = textured_painter(photos, (0.8, 0.8))(rng, region, shape)
    assert visible.sum() == 2  # the scan above 0.4
    assert np.allclose(out[shape == 0], 0.2)  # outside the scan, the background
    # alpha = shape * opacity: at shape 1.0 the fill weighs 0.8, the background 0.2
    fill = (out[3, 2] - 0.2 * 0.2) / 0.8
    assert np.all(fill >= 0.35 * 0.5 - 1e-5) and np.all(fill <= 0.35 * 0.5 + 0.65 + 1e-5)


def test_uda_generator_is_deterministic_and_checks_its_config(tmp_path, uda):
    root, _ = uda
    generate_uda(str(tmp_path / 'b'), DigitScenesUDAConfig(**SMALL))
    for rel in ('source/leftImg8bit/train/synthville/synthville_000000_000003_leftImg8bit.png',
                'target/gtFine/test/realville/realville_000000_000002_gtFine_labelTrainIds.png',
                'target/corruptions.json'):
        with open(osp.join(root, rel), 'rb') as a, open(tmp_path / 'b' / rel, 'rb') as b:
            assert a.read() == b.read(), rel
    for bad, match in ((dict(severities=(0, 3)), 'severities'), (dict(imbalance=0.5), 'imbalance'),
                       (dict(target_order=(0, 1)), 'target_order'),
                       (dict(num_source=dict(test=3)), 'num_source'),
                       (dict(target_opacity=(0.9, 0.5)), 'target_opacity')):
        with pytest.raises(ValueError, match=match):
            generate_uda(str(tmp_path / 'c'), DigitScenesUDAConfig(**bad))


# ------------------------------------------------------------ the UDA setting of the wrapper
UDA_CONFIGS = sorted(glob.glob(osp.join(osp.dirname(ST), '*.py')))


@pytest.mark.parametrize('path', UDA_CONFIGS, ids=[osp.basename(c)[:-3] for c in UDA_CONFIGS])
def test_uda_configs_build_source_and_target_data(uda, path):
    from mmengine.registry import DefaultScope

    from mtkit.registry import DATASETS, MODELS
    root, _ = uda
    cfg = uda_cfg(root, '/tmp/unused', val=True, path=path)
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(cfg.model)
        data = DATASETS.build(cfg.train_dataloader.dataset)
        val = DATASETS.build(cfg.val_dataloader.dataset)
    assert len(val) == 3 and 'realville' in val[0]['data_samples'].img_path  # target val
    if 'semi_train_cfg' not in cfg.model:  # source-only: the labeled source alone
        assert len(data) == 4 and 'synthville' in data.get_data_info(0)['img_path']
        return
    assert model.semi_train_cfg['mix'] == 'source_classmix'
    assert 'synthville' in data.labeled.get_data_info(0)['img_path']
    assert 'realville' in data.unlabeled.get_data_info(0)['img_path']
    assert model.semi_train_cfg['oracle'] == ('oracle' in osp.basename(path))


def test_source_classmix_pastes_source_pixels_and_labels_into_target_images(uda, monkeypatch):
    import torch

    import mtkit.models.seg.mean_teacher_segmentor as mts
    root, _ = uda
    cfg = uda_cfg(root, '/tmp/unused')
    cfg.model.semi_train_cfg.pseudo_thr = 0.0  # every target pixel kept
    model, data = _batch(cfg)
    model.teacher.load_state_dict(model.student.state_dict())
    seen = {}
    plain_ce = mts.pseudo_label_ce

    def ce(logits, labels, keep, valid, weighting, exact=None):
        seen.update(labels=labels, keep=keep, valid=valid, exact=exact, weighting=weighting)
        return plain_ce(logits, labels, keep, valid, weighting, exact)
    monkeypatch.setattr(mts, 'pseudo_label_ce', ce)
    encode = model.student.encode_decode

    def encode_seen(x, metas):
        out = encode(x, metas)
        seen.setdefault('inputs', []).append(x)
        seen['logits'] = out
        return out
    monkeypatch.setattr(model.student, 'encode_decode', encode_seen)
    model.set_train_iter(5)
    batch = model.data_preprocessor(data, True)
    losses = model.loss(batch['inputs'], batch['data_samples'])
    sup, strong, weak = (batch['inputs'][k] for k in ('sup', 'strong', 'weak'))
    src_gt = torch.stack([s.gt_sem_seg.data[0] for s in batch['data_samples']['sup']]).long()
    _, teacher_label = model.teacher_maps('teacher', weak)
    exact = seen['exact']
    assert seen['weighting'] == 'class_balanced'
    assert exact.any() and not exact.all()
    mixed = seen['inputs'][-1]  # the student's unlabeled forward (after the supervised one)
    assert torch.equal(mixed, torch.where(exact[:, None], sup, strong))
    valid = model.valid_mask(weak, batch['data_samples']['weak'])  # padding: ignored
    target = torch.where(valid, teacher_label, torch.full_like(teacher_label, 255))
    assert torch.equal(seen['labels'], torch.where(exact, src_gt, target))
    for b in range(2):  # ClassMix: every pixel of ceil(n / 2) of the n source classes
        present = set(src_gt[b][src_gt[b] != 255].unique().tolist())
        picked = set(src_gt[b][exact[b]].unique().tolist())
        assert picked <= present and len(picked) == (len(present) + 1) // 2
        for c in picked:
            assert bool(exact[b][src_gt[b] == c].all())
    # the statistics are the target's own pixels: all kept at threshold 0; the agreement of
    # the student's prediction with the teacher's label over them
    scalars = model.pseudo_label_scalars()
    assert scalars['pseudo/kept_share'] == pytest.approx(1.0)
    own = valid & ~exact
    agree = ((seen['logits'].argmax(1) == teacher_label) & own).sum() / own.sum()
    assert scalars['pseudo/agreement'] == pytest.approx(agree.item())
    assert torch.isfinite(losses['unsup_loss_seg']) and losses['unsup_loss_seg'] > 0


def test_uda_self_training_runs_from_train_py_config(uda, tmp_path):
    from mmengine.runner import Runner
    root, _ = uda
    cfg = uda_cfg(root, str(tmp_path), max_iters=2, val=True)
    runner = Runner.from_cfg(cfg)
    runner.train()
    scalars = glob.glob(str(tmp_path / '*' / 'vis_data' / 'scalars.json'))
    with open(scalars[0]) as f:
        rows = [json.loads(line) for line in f]
    assert any('teacher/fg_mIoU' in r for r in rows)
    assert any('pseudo/kept_share' in r or 'unsup_loss_seg' in r for r in rows)


def test_uda_bad_inputs_other_classes_or_other_shapes(uda):
    from mmengine.registry import DefaultScope

    from mtkit.registry import DATASETS
    from mtkit.utils.errors import ConfigKeyError
    root, _ = uda
    cfg = uda_cfg(root, '/tmp/unused')
    ds_cfg = cfg.train_dataloader.dataset
    ds_cfg.unlabeled.metainfo = dict(classes=('background', ) + tuple(f'd{i}' for i in range(10)))
    with DefaultScope.overwrite_default_scope('mmseg'), pytest.raises(
            ConfigKeyError, match='the labeled and the unlabeled dataset name other classes'):
        DATASETS.build(ds_cfg)
    cfg = uda_cfg(root, '/tmp/unused')
    model, data = _batch(cfg)
    batch = model.data_preprocessor(data, True)
    batch['inputs']['sup'] = batch['inputs']['sup'][:, :, :64]
    model.set_train_iter(1)
    with pytest.raises(ConfigKeyError, match='source_classmix.*need one shape'):
        model.loss(batch['inputs'], batch['data_samples'])
