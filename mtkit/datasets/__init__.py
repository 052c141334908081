"""What a Runner loads: MMEngine datasets and transforms. The offline generators and split
writers that make the data are in :mod:`mtkit.generate`."""
from .checked_coco import CheckedCocoDataset
from .clip_seg import (ClipRandomFlipCrop, ClipSegDataset, LoadClip, PackClipSegInputs,
                       SemiClipDataset)
from .digitsc_dataset import DigitsCDataset
from .disjoint import DisjointConcatDataset
from .semi_seg import SemiSegDataset, WeakStrongViews

__all__ = ['CheckedCocoDataset', 'ClipRandomFlipCrop', 'ClipSegDataset', 'LoadClip',
           'PackClipSegInputs', 'SemiClipDataset', 'DigitsCDataset', 'DisjointConcatDataset',
           'SemiSegDataset', 'WeakStrongViews']
