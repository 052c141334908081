"""Labeled / unlabeled splits of a COCO instances file (pure functions + file helpers).

File names follow mmdet's semi-supervised convention, which mtkit's configs read:
``{stem}.{fold}@{percent}.json`` (labeled) and ``{stem}.{fold}@{percent}-unlabeled.json``
(the same images' ``images`` entries without annotations). The unlabeled images' ground truth
is written beside them as ``{stem}.{fold}@{percent}-unlabeled.gt.json`` so that pseudo-label
precision and recall can be measured.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Tuple

import numpy as np


class SplitError(ValueError):
    """A COCO file or split request that cannot be honoured."""


def _fmt_percent(percent: float) -> str:
    return f'{percent:g}'


def split_names(stem: str, percent: float, fold: int) -> Dict[str, str]:
    """File names of one split, e.g. ``instances_train.1@10.json``."""
    p = _fmt_percent(percent)
    return dict(labeled=f'{stem}.{fold}@{p}.json',
                unlabeled=f'{stem}.{fold}@{p}-unlabeled.json',
                unlabeled_gt=f'{stem}.{fold}@{p}-unlabeled.gt.json')


def load_coco(path: str) -> dict:
    """Read a COCO json and check that it has a non-empty ``images`` list."""
    if not osp.isfile(path):
        raise SplitError(f'COCO annotation file not found: {path}')
    try:
        with open(path) as f:
            coco = json.load(f)
    except json.JSONDecodeError as e:
        raise SplitError(f'{path} is not valid JSON: {e}') from e
    if not isinstance(coco, dict) or not isinstance(coco.get('images'), list):
        keys = sorted(coco)[:8] if isinstance(coco, dict) else '-'
        raise SplitError(f'{path}: expected a COCO dict with an "images" list, found '
                         f'{type(coco).__name__} with keys {keys}')
    if not coco['images']:
        raise SplitError(f'{path}: the "images" list is empty; nothing to split')
    return coco


def labeled_count(num_images: int, percent: float) -> int:
    """Exactly ``round(num_images * percent / 100)`` images, at least 1, at most n - 1."""
    if not 0 < percent < 100:
        raise SplitError(f'percent must be in (0, 100), got {percent}')
    n = int(round(num_images * percent / 100.0))
    return min(max(n, 1), num_images - 1) if num_images > 1 else 1


def split_coco(coco: dict, percent: float, fold: int) -> Tuple[dict, dict, dict]:
    """Split a COCO dict into (labeled, unlabeled, unlabeled ground truth).

    Images are sampled without replacement with ``numpy.random.default_rng(fold)``, so a fold
    is reproducible on every machine. Annotations follow their image.
    """
    images: List[dict] = coco['images']
    n_lab = labeled_count(len(images), percent)
    order = np.random.default_rng(fold).permutation(len(images))
    lab_idx = set(order[:n_lab].tolist())
    lab_imgs = [im for i, im in enumerate(images) if i in lab_idx]
    unl_imgs = [im for i, im in enumerate(images) if i not in lab_idx]
    lab_ids = {im['id'] for im in lab_imgs}
    anns = coco.get('annotations', [])
    base = {k: v for k, v in coco.items() if k not in ('images', 'annotations')}
    labeled = dict(base, images=lab_imgs, annotations=[a for a in anns if a['image_id'] in lab_ids])
    unlabeled = dict(base, images=unl_imgs, annotations=[])
    unlabeled_gt = dict(base, images=unl_imgs,
                        annotations=[a for a in anns if a['image_id'] not in lab_ids])
    return labeled, unlabeled, unlabeled_gt


def write_splits(ann_file: str, percents: List[float], folds: List[int],
                 out_dir: str = None) -> List[str]:
    """Write every (percent, fold) split of ``ann_file``; returns the written paths."""
    coco = load_coco(ann_file)
    out_dir = out_dir or osp.dirname(osp.abspath(ann_file))
    os.makedirs(out_dir, exist_ok=True)
    stem = osp.splitext(osp.basename(ann_file))[0]
    written = []
    for percent in percents:
        labeled_count(len(coco['images']), percent)  # validates before writing anything
    for percent in percents:
        for fold in folds:
            parts = split_coco(coco, percent, fold)
            for key, data in zip(('labeled', 'unlabeled', 'unlabeled_gt'), parts):
                path = osp.join(out_dir, split_names(stem, percent, fold)[key])
                with open(path, 'w') as f:
                    json.dump(data, f)
                written.append(path)
    return written
