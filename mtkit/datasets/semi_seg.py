"""Data for semi-supervised segmentation: weak/strong views and labeled+unlabeled pairs.

* :class:`WeakStrongViews` ends an unlabeled image's pipeline: after the shared geometric
  transforms it packs the image twice, once as is (``weak``, for the teacher) and once after
  the ``strong`` photometric transforms (``strong``, for the student), so the two views are
  aligned pixel for pixel.
* :class:`SemiSegDataset` pairs item ``i`` of a labeled dataset (index ``i mod N_lab``) with
  item ``i`` of an unlabeled one (``i mod N_unl``); its items carry the branches ``sup``,
  ``weak`` and ``strong``, which :class:`~mtkit.models.seg.MultiBranchSegDataPreProcessor`
  batches and the segmentation wrapper consumes.
"""
import copy
import os.path as osp
from typing import Any, Dict, Optional, Sequence

import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.dataset import Compose

from ..registry import DATASETS, TRANSFORMS, register
from ..utils.errors import ConfigKeyError
from .image_keys import image_keys, overlap_error
from .paired import LabeledUnlabeledPairs


def _check_packed(results: Any, where: str) -> None:
    if not (isinstance(results, dict) and 'inputs' in results and 'data_samples' in results):
        raise ConfigKeyError(f'{where}: the pipeline must end with a packing transform '
                             f"(e.g. dict(type='PackSegInputs')), got {type(results).__name__}")


@register(TRANSFORMS)
class WeakStrongViews(BaseTransform):
    """Pack a weak and a strong view of one (already geometrically transformed) image.

    Args:
        strong_pipeline: Photometric transforms for the student's view (e.g. mmseg's
            ``Albu`` with albumentations' ColorJitter / ToGray / GaussianBlur). They must not
            move pixels, or the views would no longer be aligned.
        pack: The packing transform, applied to both views.
        weak_pipeline: Transforms for the teacher's view only (usually none).
    """

    def __init__(self, strong_pipeline: Sequence[dict], pack: Optional[dict] = None,
                 weak_pipeline: Sequence[dict] = ()) -> None:
        self.strong = Compose(list(strong_pipeline) + [pack or dict(type='PackSegInputs')])
        self.weak = Compose(list(weak_pipeline) + [pack or dict(type='PackSegInputs')])
        # albumentations >= 1.4 draws from its own generators, seeded from OS entropy unless
        # set: seed them from numpy's global RNG (which MMEngine seeds per worker) so that a
        # run is reproducible for its `randomness.seed`
        self._albu = [t.aug for c in (self.weak, self.strong) for t in c.transforms
                      if hasattr(getattr(t, 'aug', None), 'set_random_seed')]

    def _seed_albumentations(self) -> None:
        for aug in self._albu:
            aug.set_random_seed(int(np.random.randint(0, 2**31 - 1)))

    def transform(self, results: dict) -> dict:
        self._seed_albumentations()
        weak = self.weak(copy.deepcopy(results))
        strong = self.strong(results)
        _check_packed(weak, 'WeakStrongViews (weak view)')
        _check_packed(strong, 'WeakStrongViews (strong view)')
        return dict(inputs=dict(weak=weak['inputs'], strong=strong['inputs']),
                    data_samples=dict(weak=weak['data_samples'],
                                      strong=strong['data_samples']))


@register(DATASETS)
class SemiSegDataset(LabeledUnlabeledPairs):
    """A labeled and an unlabeled segmentation dataset, paired item by item.

    Its length is that of the larger one, so an epoch sees every image of the larger set once
    and the smaller set's images repeatedly; with a shuffling sampler each labeled image is
    paired with changing unlabeled ones. A batch of ``B`` items thus holds ``B`` labeled and
    ``B`` unlabeled images.

    Checked when built (each a :class:`ConfigKeyError` naming the split):

    * each side has a split list (``ann_file``): without one mmseg takes every image of the
      folder, so a "1/8" labeled set would silently be the whole training set, unlabeled
      images and their labels included;
    * no image is on both sides, unless ``allow_overlap=True`` (e.g. a full-label reference run
      whose unlabeled branch is never used).

    Args:
        labeled: Config (or instance) of the labeled dataset; its pipeline ends with
            ``PackSegInputs``.
        unlabeled: Config (or instance) of the unlabeled dataset; its pipeline ends with
            :class:`WeakStrongViews`.
        allow_overlap: Accept images that are in both splits.
    """

    def __init__(self, labeled: Any, unlabeled: Any, allow_overlap: bool = False) -> None:
        for name, ds in (('labeled', labeled), ('unlabeled', unlabeled)):
            ann = ds.get('ann_file', '') if isinstance(ds, dict) else getattr(ds, 'ann_file', '')
            if not ann:
                raise ConfigKeyError(
                    f'SemiSegDataset: the {name} dataset has no ann_file; mmseg would then take '
                    f'every image of its folder (the other split included). Give the split list '
                    f'(tools/split_cityscapes.py writes train.<seed>@<fraction>.txt and '
                    f'...-unlabeled.txt)')
            if isinstance(ds, dict):  # an empty list would fail inside MMEngine (numpy)
                path = ann if osp.isabs(ann) else osp.join(ds.get('data_root') or '', ann)
                if osp.isfile(path):
                    with open(path) as f:
                        if not any(line.strip() for line in f):
                            raise ConfigKeyError(f'SemiSegDataset: the {name} dataset is empty '
                                                 f'({path!r} lists no image)')
        super().__init__(labeled, unlabeled)
        if not allow_overlap:
            both = image_keys(self.labeled) & image_keys(self.unlabeled)  # normalised paths
            if both:
                raise overlap_error('SemiSegDataset', f'the labeled ({self.labeled.ann_file!r})',
                                    f'the unlabeled ({self.unlabeled.ann_file!r}) split', both,
                                    'fix the lists, or set allow_overlap=True')

    def __getitem__(self, idx: int) -> Dict[str, Dict[str, Any]]:
        lab, unl = self.pair(idx)
        _check_packed(lab, 'SemiSegDataset (labeled pipeline)')
        if not (isinstance(unl, dict) and isinstance(unl.get('inputs'), dict)
                and {'weak', 'strong'} <= set(unl['inputs'])):
            raise ConfigKeyError("SemiSegDataset: the unlabeled pipeline must end with "
                                 "dict(type='mtkit.WeakStrongViews', strong_pipeline=[...])")
        return dict(inputs=dict(sup=lab['inputs'], **unl['inputs']),
                    data_samples=dict(sup=lab['data_samples'], **unl['data_samples']))
