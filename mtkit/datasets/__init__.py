from .coco_split import SplitError, labeled_count, split_coco, split_names, write_splits
from .digitscenes import CLASSES, SEG_CLASSES, DigitScenesConfig, generate

__all__ = ['SplitError', 'labeled_count', 'split_coco', 'split_names', 'write_splits',
           'CLASSES', 'SEG_CLASSES', 'DigitScenesConfig', 'generate']
