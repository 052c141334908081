"""Digit data gets label-preserving augmentation only: a mirrored digit is another digit (or
none: 2, 5, 7), so no config that trains on DigitScenes, DigitsC or MovingDigits may flip."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from conftest import REPO

ALL = sorted(c for c in glob.glob(osp.join(REPO, 'configs', '**', '*.py'), recursive=True))
DIGIT_ROOTS = ('digitscenes', 'digitsc', 'moving_digits')
PROB_KEYS = ('prob', 'flip_prob', 'p')


def flips(node, where='cfg'):
    """(location, transform) of every flip that can fire, anywhere in a config tree."""
    found = []
    if isinstance(node, dict):
        kind = str(node.get('type', ''))
        if 'flip' in kind.lower():
            probs = [p for k in PROB_KEYS if k in node
                     for p in (node[k] if isinstance(node[k], (list, tuple)) else [node[k]])]
            # a flip without a probability key fires with the transform's default (> 0)
            if not probs or any(p != 0 for p in probs):
                found.append((where, node))
        for k, v in node.items():
            found += flips(v, f'{where}.{k}')
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            found += flips(v, f'{where}[{i}]')
    return found


def test_the_check_finds_flips():
    cfg = dict(pipeline=[dict(type='RandomFlip', prob=0.5), dict(type='Albu', transforms=[
        dict(type='HorizontalFlip')]), dict(type='mtkit.ClipRandomFlipCrop', flip_prob=0.0),
        dict(type='RandomFlip', prob=[0.0, 0.0])])
    assert [w for w, _ in flips(cfg)] == ['cfg.pipeline[0]', 'cfg.pipeline[1].transforms[0]']


DIGIT_CONFIGS = []
for path in ALL:
    text = open(path).read()
    if any(r in text for r in DIGIT_ROOTS):
        DIGIT_CONFIGS.append(path)


def test_digit_configs_are_found():
    names = {osp.relpath(c, REPO) for c in DIGIT_CONFIGS}
    for expected in ('configs/_base_/datasets/semi_digitscenes_seg.py',
                     'configs/_base_/datasets/moving_digits.py',
                     'configs/_base_/datasets/digitscenes_det.py',
                     'configs/tta/source_smallresnet_digitsc.py'):
        assert expected in names


@pytest.mark.parametrize('path', DIGIT_CONFIGS, ids=[osp.relpath(c, REPO)[8:-3]
                                                     for c in DIGIT_CONFIGS])
def test_digit_config_has_no_flip(path):
    cfg = Config.fromfile(path)._cfg_dict.to_dict()
    found = flips(cfg)
    assert not found, (f'{osp.relpath(path, REPO)} flips digit images at '
                       f'{[w for w, _ in found]}: a mirrored digit is another digit, use '
                       f'label-preserving augmentation only')
