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

SMALL = dict(num_source=dict(train=4, val=2), num_target=dict(train=4, val=3, test=2),
             img_size=64)


@pytest.fixture(scope='module')
def uda(tmp_path_factory):
    out = str(tmp_path_factory.mktemp('uda'))
    return out, generate_uda(out, DigitScenesUDAConfig(**SMALL))


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
            assert name in ('fog', 'contrast') and sev in (1, 2, 3)


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
                                     painter=textured_painter(photos, (0.7, 0.95)))
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
