from .checked_coco import CheckedCocoDataset
from .cityscapes_split import (list_images, parse_fraction, split_cityscapes,
                               write_cityscapes_splits)
from .coco_split import SplitError, labeled_count, split_coco, split_names, write_splits
from .digitsc import digit_crops, write_digitsc
from .digitsc_dataset import DigitsCDataset
from .semi_seg import SemiSegDataset, WeakStrongViews
from .digitscenes import CLASSES, SEG_CLASSES, DigitScenesConfig, generate
from .clip_seg import (ClipRandomFlipCrop, ClipSegDataset, LoadClip, PackClipSegInputs,
                       SemiClipDataset)
from .moving_digits import MovingDigitsConfig, generate_moving_digits

__all__ = ['CheckedCocoDataset', 'list_images', 'parse_fraction', 'split_cityscapes',
           'write_cityscapes_splits',
           'SplitError', 'labeled_count', 'split_coco', 'split_names', 'write_splits',
           'CLASSES', 'SEG_CLASSES', 'DigitScenesConfig', 'generate', 'SemiSegDataset',
           'WeakStrongViews', 'DigitsCDataset', 'digit_crops', 'write_digitsc',
           'ClipRandomFlipCrop', 'ClipSegDataset', 'LoadClip', 'PackClipSegInputs',
           'SemiClipDataset',
           'MovingDigitsConfig', 'generate_moving_digits']
