"""MovingDigits clips: generation (motion, masks, boxes, splits), the clip dataset and the
clip transforms (one geometric augmentation for all frames, recorded)."""
import json
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.dataset import Compose

from mtkit.datasets import ClipRandomFlipCrop, ClipSegDataset
from mtkit.generate import MovingDigitsConfig, generate_moving_digits


@pytest.fixture(scope='module')
def moving_digits(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('moving_digits'))
    cfg = MovingDigitsConfig(num_clips=dict(train=20, val=3, test=2), frames=6, img_size=48,
                             min_digit=12, max_digit=20)
    meta = generate_moving_digits(root, cfg)
    return root, meta



def test_holds_settings_reads_the_meta_the_generator_wrote(moving_digits, tmp_path):
    """What tools/make_*.py check before skipping a generation (without --force)."""
    from dataclasses import asdict, replace

    from mtkit.generate.common import holds_settings
    root, _ = moving_digits
    with open(osp.join(root, 'meta.json')) as f:
        cfg = MovingDigitsConfig(**json.load(f)['config'])
    assert isinstance(cfg.pool_fractions, list)  # from JSON; the tuple form must match too
    assert holds_settings(root, dict(config=asdict(replace(cfg, pool_fractions=(0.7, 0.15,
                                                                                0.15)))))
    assert holds_settings(root, dict(name='MovingDigits'))
    assert not holds_settings(root, dict(config=asdict(replace(cfg, seed=1))))
    assert not holds_settings(root, dict(config=asdict(cfg), name='DigitScenes'))
    assert not holds_settings(str(tmp_path), dict(name='MovingDigits'))  # no meta.json

def test_generation_layout_masks_boxes_and_motion(moving_digits):
    import cv2
    root, meta = moving_digits
    assert meta['splits']['train']['clips'] == 20 and meta['classes'][0] == 'background'
    ann = json.load(open(osp.join(root, 'annotations', 'train.json')))
    assert ann['frames_per_clip'] == 6 and len(ann['clips']) == 20
    moved = 0
    for clip in ann['clips']:
        assert len(clip['frames']) == 6
        sems = [cv2.imread(osp.join(root, f['sem']), cv2.IMREAD_UNCHANGED) for f in clip['frames']]
        insts = [cv2.imread(osp.join(root, f['inst']), cv2.IMREAD_UNCHANGED)
                 for f in clip['frames']]
        img = cv2.imread(osp.join(root, clip['frames'][0]['img']))
        assert img.shape == (48, 48, 3) and insts[0].dtype == np.uint16
        for obj in clip['objects']:
            for t, box in enumerate(obj['boxes']):
                mask = insts[t] == obj['instance_id']
                # semantic = label + 1 exactly where the instance is visible
                assert (sems[t][mask] == obj['label'] + 1).all()
                if box is None:
                    assert not mask.any()
                    continue
                ys, xs = np.nonzero(mask)
                assert box == [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1),
                               float(ys.max() - ys.min() + 1)]
            boxes = [b for b in obj['boxes'] if b is not None]
            moved += boxes[0][:2] != boxes[-1][:2]
        assert ((sems[0] > 0) == (insts[0] > 0)).all()
    assert moved > 0  # digits move
    # splits: disjoint, complete, nested
    read = lambda n: open(osp.join(root, 'splits', f'{n}.txt')).read().split()  # noqa: E731
    lab10, unl10, lab20 = read('train_labeled@10'), read('train_unlabeled@10'), \
        read('train_labeled@20')
    assert len(lab10) == 2 and len(lab20) == 4 and set(lab10) <= set(lab20)
    assert sorted(lab10 + unl10) == [f'{i:05d}' for i in range(20)]


def test_generation_is_deterministic_and_checks_its_config(moving_digits, tmp_path):
    root, _ = moving_digits
    cfg = MovingDigitsConfig(num_clips=dict(train=20, val=3, test=2), frames=6, img_size=48,
                             min_digit=12, max_digit=20)
    generate_moving_digits(str(tmp_path), cfg)
    for rel in ('train/00004/img_03.png', 'val/00001/sem_05.png'):
        assert open(osp.join(root, rel), 'rb').read() == open(tmp_path / rel, 'rb').read()
    with pytest.raises(ValueError, match='frames must be >= 2'):
        MovingDigitsConfig(frames=1)
    with pytest.raises(ValueError, match='num_clips keys'):
        MovingDigitsConfig(num_clips=dict(training=3))


def pipeline(crop=(32, 40), flip_prob=0.5):
    return [dict(type='mtkit.LoadClip'),
            dict(type='mtkit.ClipRandomFlipCrop', crop_size=crop, scale_range=(0.9, 1.2),
                 flip_prob=flip_prob),
            dict(type='mtkit.PackClipSegInputs')]


def test_clip_dataset_packs_every_frame_with_one_recorded_augmentation(moving_digits):
    import mtkit  # noqa: F401  (registers the transforms)
    root, _ = moving_digits
    ds = ClipSegDataset(data_root=root, split='train', clip_list='splits/train_labeled@20.txt',
                        pipeline=pipeline())
    assert len(ds) == 4
    np.random.seed(3)
    item = ds[0]
    x, sample = item['inputs'], item['data_samples']
    assert x.shape == (6, 3, 32, 40) and x.dtype == torch.uint8
    assert sample.gt_sem_seg.data.shape == (6, 32, 40)
    aug = sample.metainfo['clip_aug']
    assert sample.metainfo['num_frames'] == 6 and sample.metainfo['clip_id'] == ds[0][
        'data_samples'].metainfo['clip_id']
    # replay the recorded augmentation on the raw files: every frame matches
    import cv2
    y0, x0, y1, x1 = aug['crop']
    for t in (0, 5):
        raw = cv2.imread(sample.metainfo['img_paths'][t])
        size = (int(round(48 * aug['scale'])), ) * 2
        ref = ClipRandomFlipCrop._apply([raw], size, aug['crop'], aug['flip'],
                                        cv2.INTER_LINEAR, 0)[0]
        assert np.array_equal(x[t].permute(1, 2, 0).numpy(), ref)
    # unlabeled clips carry no label maps
    unl = ClipSegDataset(data_root=root, split='train', clip_list='splits/train_unlabeled@20.txt',
                         with_labels=False, pipeline=pipeline())
    assert len(unl) == 16 and 'gt_sem_seg' not in unl[0]['data_samples']



def test_semi_clip_dataset_pairs_and_rejects_an_empty_side(moving_digits, tmp_path):
    from mtkit.datasets import SemiClipDataset
    from mtkit.utils.errors import ConfigKeyError
    root, _ = moving_digits
    pipeline = [dict(type='mtkit.LoadClip'), dict(type='mtkit.PackClipSegInputs')]
    lab = dict(type='mtkit.ClipSegDataset', data_root=root, split='train',
               clip_list='splits/train_labeled@10.txt', pipeline=pipeline)
    unl = dict(lab, clip_list='splits/train_unlabeled@10.txt', with_labels=False)
    ds = SemiClipDataset(lab, unl)
    assert len(ds) == 18 and len(ds.labeled) == 2  # 10% of 20 clips labeled
    item = ds[5]  # labeled clip 5 mod 2, unlabeled clip 5
    assert item['data_samples']['sup'].clip_id == ds.labeled[1]['data_samples'].clip_id
    assert item['data_samples']['unsup'].clip_id == ds.unlabeled[5]['data_samples'].clip_id
    assert 'gt_sem_seg' not in item['data_samples']['unsup']
    empty = tmp_path / 'none.txt'
    empty.write_text('')
    with pytest.raises(ValueError, match=f'ClipSegDataset: no clips in {empty}'):
        SemiClipDataset(dict(lab, clip_list=str(empty)), unl)
    with pytest.raises(ConfigKeyError, match="SemiClipDataset: the unlabeled dataset is empty"):
        SemiClipDataset(lab, [])  # an instance without items

def test_clip_errors_name_the_file(moving_digits, tmp_path):
    import shutil

    import mtkit  # noqa: F401
    root, _ = moving_digits
    with pytest.raises(FileNotFoundError, match='make_moving_digits'):
        ClipSegDataset(data_root=str(tmp_path), split='train', pipeline=[])
    bad_list = tmp_path / 'list.txt'
    bad_list.write_text('00001\n99999\n')
    with pytest.raises(ValueError, match='99999'):
        ClipSegDataset(data_root=root, split='train', clip_list=str(bad_list), pipeline=[])
    copy = str(tmp_path / 'copy')
    shutil.copytree(root, copy)
    victim = osp.join(copy, 'train', '00000', 'img_02.png')
    open(victim, 'wb').write(b'not a png')
    ds = ClipSegDataset(data_root=copy, split='train', pipeline=pipeline())
    with pytest.raises(FileNotFoundError, match='img_02.png'):
        Compose(pipeline())(dict(ds.get_data_info(0)))
    with pytest.raises(ValueError, match='flip_prob'):
        ClipRandomFlipCrop((8, 8), flip_prob=2.0)
