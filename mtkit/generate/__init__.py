"""Offline data generators and split writers (``tools/make_*.py``, ``tools/split_*.py``):
DigitScenes (COCO and Cityscapes layouts), DigitsC, DigitScenes-C, MovingDigits, the ImageNet-C
corruptions they apply, and the COCO / Cityscapes labeled-unlabeled split writers. Nothing here
is loaded by a Runner; the MMEngine datasets are in :mod:`mtkit.datasets`."""
from .cityscapes_split import (list_images, parse_fraction, split_cityscapes,
                               write_cityscapes_splits)
from .coco_split import SplitError, labeled_count, split_coco, split_names, write_splits
from .common import (CLASSES, IMG_SUFFIX, SEG_CLASSES, SEG_SUFFIX, holds_settings, map_jobs,
                     write_png)
from .corruptions import CORRUPTIONS, corrupt, corruption_seed
from .digitsc import digit_crops, write_digitsc
from .digitscenes import DigitScenesConfig, generate
from .digitscenes_c import write_digitscenes_c
from .moving_digits import MovingDigitsConfig, generate_moving_digits

__all__ = ['list_images', 'parse_fraction', 'split_cityscapes', 'write_cityscapes_splits',
           'SplitError', 'labeled_count', 'split_coco', 'split_names', 'write_splits',
           'CLASSES', 'IMG_SUFFIX', 'SEG_CLASSES', 'SEG_SUFFIX', 'holds_settings', 'map_jobs',
           'write_png', 'CORRUPTIONS', 'corrupt', 'corruption_seed', 'digit_crops',
           'write_digitsc', 'DigitScenesConfig', 'generate', 'write_digitscenes_c',
           'MovingDigitsConfig', 'generate_moving_digits']
