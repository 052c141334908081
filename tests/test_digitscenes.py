"""DigitScenes generator: formats, determinism, disjoint digit pools."""
import hashlib
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from conftest import tiny_cfg
from mtkit.generate.digitscenes import CITY, DigitScenesConfig, generate


def _digest(root):
    h = hashlib.sha256()
    for dirpath, _, files in sorted(os.walk(root)):
        for f in sorted(files):
            if f.endswith(('.png', '.json')) and f != 'meta.json':
                with open(osp.join(dirpath, f), 'rb') as fh:
                    h.update(f.encode() + fh.read())
    return h.hexdigest()


def test_coco_format_and_masks(digitscenes):
    coco = COCO(osp.join(digitscenes, 'coco', 'annotations', 'instances_train.json'))
    assert len(coco.getImgIds()) == 24
    assert [c['name'] for c in coco.loadCats(coco.getCatIds())][:3] == ['zero', 'one', 'two']
    for ann in coco.loadAnns(coco.getAnnIds()):
        m = mask_utils.decode(coco.annToRLE(ann)).astype(bool)
        ys, xs = np.nonzero(m)
        x, y, w, h = ann['bbox']
        assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == (x, y, x + w, y + h)
        assert ann['area'] == m.sum()
        img = coco.loadImgs(ann['image_id'])[0]
        assert osp.isfile(osp.join(digitscenes, 'coco', 'train', img['file_name']))


def test_cityscapes_layout(digitscenes):
    gt_dir = osp.join(digitscenes, 'cityscapes', 'gtFine', 'val', CITY)
    img_dir = osp.join(digitscenes, 'cityscapes', 'leftImg8bit', 'val', CITY)
    gts = sorted(os.listdir(gt_dir))
    assert len(gts) == 6 and all(g.endswith('_gtFine_labelTrainIds.png') for g in gts)
    coco = COCO(osp.join(digitscenes, 'coco', 'annotations', 'instances_val.json'))
    for g in gts:
        img_name = g.replace('_gtFine_labelTrainIds.png', '_leftImg8bit.png')
        assert osp.isfile(osp.join(img_dir, img_name))
        seg = cv2.imread(osp.join(gt_dir, g), cv2.IMREAD_UNCHANGED)
        assert seg.shape == (64, 64) and seg.max() <= 10
        image_id = int(g.split('_')[2])
        labels = {a['category_id'] for a in coco.loadAnns(coco.getAnnIds(imgIds=[image_id]))}
        assert set(np.unique(seg)) - {0} == labels  # digit d has train id d + 1 = category id


def test_splits_and_unlabeled_ground_truth(digitscenes):
    ann = osp.join(digitscenes, 'coco', 'annotations')
    lab = json.load(open(osp.join(ann, 'instances_train.1@10.json')))
    unl = json.load(open(osp.join(ann, 'instances_train.1@10-unlabeled.json')))
    gt = json.load(open(osp.join(ann, 'instances_train.1@10-unlabeled.gt.json')))
    assert len(lab['images']) == 2 and len(unl['images']) == 22
    assert unl['annotations'] == [] and len(gt['annotations']) > 0
    assert {a['image_id'] for a in gt['annotations']} <= {i['id'] for i in unl['images']}


def test_digit_pools_are_disjoint(digitscenes):
    used = {}
    for split in ('train', 'val', 'test'):
        coco = json.load(open(osp.join(digitscenes, 'coco', 'annotations',
                                       f'instances_{split}.json')))
        used[split] = {a['digit_index'] for a in coco['annotations']}
    assert not used['train'] & used['val']
    assert not used['train'] & used['test']
    assert not used['val'] & used['test']


def test_deterministic_per_seed(tmp_path):
    cfg = tiny_cfg(n_train=6)
    generate(str(tmp_path / 'a'), cfg)
    generate(str(tmp_path / 'b'), cfg)
    generate(str(tmp_path / 'c'), tiny_cfg(seed=1, n_train=6))
    assert _digest(tmp_path / 'a') == _digest(tmp_path / 'b')
    assert _digest(tmp_path / 'a') != _digest(tmp_path / 'c')


def test_extra_unlabeled_pool(tmp_path):
    """--extra-unlabeled: unlabeled-only images from the train digit pool, annotations held out
    in instances_unlabeled.gt.json; the other splits are byte-identical to a run without it."""
    from dataclasses import replace
    cfg = tiny_cfg(n_train=6)
    generate(str(tmp_path / 'plain'), cfg)
    meta = generate(str(tmp_path / 'extra'), replace(cfg, extra_unlabeled=5))
    ann = tmp_path / 'extra' / 'coco' / 'annotations'
    unl = json.load(open(ann / 'instances_unlabeled.json'))
    gt = json.load(open(ann / 'instances_unlabeled.gt.json'))
    assert len(unl['images']) == 5 and unl['annotations'] == []
    assert len(gt['annotations']) > 0 and gt['images'] == unl['images']
    assert all(osp.isfile(tmp_path / 'extra' / 'coco' / 'unlabeled' / im['file_name'])
               for im in unl['images'])
    assert not (tmp_path / 'extra' / 'cityscapes' / 'leftImg8bit' / 'unlabeled').exists()
    train = json.load(open(ann / 'instances_train.json'))
    val = json.load(open(ann / 'instances_val.json'))
    pool = {a['digit_index'] for a in gt['annotations']}
    assert not pool & {a['digit_index'] for a in val['annotations']}
    assert meta['splits']['unlabeled']['digit_pool'] == meta['splits']['train']['digit_pool']
    from mtkit.generate.digitscenes import digit_pools
    assert pool <= set(digit_pools(1797, cfg.pool_fractions, cfg.seed)['train'].tolist())
    assert train['annotations']
    for split in ('train', 'val', 'test'):
        assert _digest(tmp_path / 'plain' / 'coco' / split) == \
            _digest(tmp_path / 'extra' / 'coco' / split)
    with pytest.raises(ValueError, match='extra_unlabeled must be >= 0'):
        replace(cfg, extra_unlabeled=-1).validate()


def test_bad_config():
    with pytest.raises(ValueError, match='min_digit <= max_digit < img_size'):
        DigitScenesConfig(img_size=64, max_digit=80).validate()
    with pytest.raises(ValueError, match='num_images keys'):
        DigitScenesConfig(num_images=dict(training=3)).validate()
