"""MMEngine dataset of a DigitsC folder (one domain of one split)."""
import os.path as osp
from typing import List

from mmengine.dataset import BaseDataset

from ..registry import DATASETS, register
from ..generate.common import CLASSES


@register(DATASETS)
class DigitsCDataset(BaseDataset):
    """The crops of ``{data_root}/{split}/{domain}/`` with labels from ``{split}/labels.txt``.

    Args:
        split: ``'train'`` or ``'test'``.
        domain: ``'clean'`` or ``'{corruption}-{severity}'`` (e.g. ``'fog-5'``).
    """

    METAINFO = dict(classes=CLASSES)

    def __init__(self, split: str = 'train', domain: str = 'clean', **kwargs) -> None:
        self.split = split
        self.domain = domain
        super().__init__(**kwargs)

    def load_data_list(self) -> List[dict]:
        root = osp.join(self.data_root, self.split)
        labels_file = osp.join(root, 'labels.txt')
        folder = osp.join(root, self.domain)
        if not osp.isfile(labels_file):
            raise FileNotFoundError(f'DigitsCDataset: {labels_file} not found; make the data with '
                                    f'python tools/make_digitsc.py')
        if not osp.isdir(folder):
            raise FileNotFoundError(f'DigitsCDataset: no domain folder {folder}')
        with open(labels_file) as f:
            labels = [int(v) for v in f.read().split()]
        return [dict(img_path=osp.join(folder, f'{i:05d}.png'), gt_label=label,
                     domain=self.domain) for i, label in enumerate(labels)]
