"""Semi-supervised splits that must share no image, checked on the datasets as built.

A check configured with a file name goes stale: ``--cfg-options`` that point the labeled
dataset at another annotation file keep the unlabeled dataset's old ``disjoint_from``, and the
labeled images then also train as unlabeled without a word. :class:`DisjointConcatDataset`
compares the images the built datasets actually read, whatever the config said.
"""
import os.path as osp
from typing import List

from mmdet.datasets import ConcatDataset

from ..registry import DATASETS, register
from ..utils.errors import ConfigKeyError
from .image_keys import ChecksAfterLoading, image_key, image_keys, leaves, overlap_error


def _ann_files(dataset) -> List[str]:
    out = []
    for leaf in leaves(dataset):
        ann = getattr(leaf, 'ann_file', None)
        if ann:
            out.append(image_key(ann))
    return out


def _names(dataset) -> str:
    return ' + '.join(repr(getattr(leaf, 'ann_file', type(leaf).__name__))
                      for leaf in leaves(dataset))


@register(DATASETS)
class DisjointConcatDataset(ChecksAfterLoading, ConcatDataset):
    """mmdet's :class:`~mmdet.datasets.ConcatDataset` (labeled dataset first, then the
    unlabeled one, as the multi-source samplers expect) that refuses to train an image in two
    of its datasets: the semi-supervised detection configs' training set.

    When built (or at ``full_init`` with ``lazy_init=True``) it compares the images of its
    top-level datasets (nested wrappers are looked through) by normalised absolute path and
    raises :class:`ConfigKeyError` naming the annotation files and example images. A member
    whose ``disjoint_from`` names an annotation file that no other member reads (the labeled
    ``ann_file`` was overridden and ``disjoint_from`` kept) is an error too.

    Args: as :class:`mmdet.datasets.ConcatDataset`.
    """

    def check_loaded(self) -> None:
        """The checks, once, after the base's full_init."""
        self._check_disjoint_from()
        keys = [image_keys(d) for d in self.datasets]
        for i in range(len(keys)):
            for j in range(i + 1, len(keys)):
                both = keys[i] & keys[j]
                if both:
                    raise overlap_error('DisjointConcatDataset', f'datasets[{i}] '
                                        f'({_names(self.datasets[i])})', f'datasets[{j}] '
                                        f'({_names(self.datasets[j])})', both,
                                        'write them with tools/split_coco.py')

    def _check_disjoint_from(self) -> None:
        for i, d in enumerate(self.datasets):
            others = {a for j, o in enumerate(self.datasets) if j != i for a in _ann_files(o)}
            for leaf in leaves(d):
                named = getattr(leaf, 'disjoint_from', None)
                if named is None:
                    continue
                root = getattr(leaf, 'data_root', None) or ''
                path = image_key(named if osp.isabs(named) else osp.join(root, named))
                if path not in others:
                    raise ConfigKeyError(
                        f'DisjointConcatDataset: datasets[{i}] ({leaf.ann_file!r}) has '
                        f'disjoint_from={named!r}, but no other dataset reads that file (they '
                        f'read {sorted(others)}): the labeled ann_file was changed and '
                        f'disjoint_from was not. Drop disjoint_from (this dataset compares '
                        f'the images it is given) or point it at the new labeled file')
