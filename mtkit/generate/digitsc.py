"""DigitsC: digit crops of DigitScenes and their ImageNet-C corruptions, for test-time
adaptation of a classifier.

A crop is the square around a digit's box (plus ``margin`` of its longer side on each side,
clipped to the image), resized to ``size`` x ``size``. Source (clean) crops come from the train
split; the test stream corrupts the test split's crops with each of the 15 corruptions.

Layout written by :func:`write_digitsc`::

    {split}/clean/{i:05d}.png                    clean crops (RGB PNG)
    {split}/{corruption}-{severity}/{i:05d}.png  corrupted crops (test split)
    {split}/labels.txt                           one class index per line, crop i on line i
    meta.json
"""
import json
import os
import os.path as osp
from typing import Dict, Sequence, Tuple

import cv2
import numpy as np

from .common import CLASSES, map_jobs, write_png
from .corruptions import CORRUPTIONS, corrupt, corruption_seed


def digit_crops(coco_dir: str, split: str, size: int = 32, margin: float = 0.2,
                min_box: float = 8.0) -> Tuple[np.ndarray, np.ndarray]:
    """(N, size, size, 3) uint8 RGB crops and (N,) labels of one DigitScenes split.

    Boxes whose longer side is below ``min_box`` pixels are skipped (too small to classify).
    """
    ann_file = osp.join(coco_dir, 'annotations', f'instances_{split}.json')
    if not osp.isfile(ann_file):
        raise FileNotFoundError(f'{ann_file} not found: generate DigitScenes first '
                                f'(python tools/make_digitscenes.py)')
    with open(ann_file) as f:
        coco = json.load(f)
    files = {im['id']: im['file_name'] for im in coco['images']}
    by_image: Dict[int, list] = {}
    for ann in coco['annotations']:
        by_image.setdefault(ann['image_id'], []).append(ann)
    crops, labels = [], []
    for image_id in sorted(by_image):
        bgr = cv2.imread(osp.join(coco_dir, split, files[image_id]), cv2.IMREAD_COLOR)
        if bgr is None:
            raise FileNotFoundError(f'cannot read {osp.join(coco_dir, split, files[image_id])}')
        img = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        h, w = img.shape[:2]
        for ann in sorted(by_image[image_id], key=lambda a: a['id']):
            x, y, bw, bh = ann['bbox']
            side = max(bw, bh)
            if side < min_box:
                continue
            side = side * (1 + 2 * margin)
            cx, cy = x + bw / 2, y + bh / 2
            x0, y0 = int(max(0, round(cx - side / 2))), int(max(0, round(cy - side / 2)))
            x1, y1 = int(min(w, round(cx + side / 2))), int(min(h, round(cy + side / 2)))
            crop = cv2.resize(img[y0:y1, x0:x1], (size, size), interpolation=cv2.INTER_AREA)
            crops.append(crop)
            labels.append(ann['category_id'] - 1)
    if not crops:
        raise ValueError(f'{ann_file}: no box of at least {min_box} px')
    return np.stack(crops), np.asarray(labels, dtype=np.int64)


def _write_domain(task) -> str:
    root, crops, name, c_i, sev, seed = task
    folder = osp.join(root, f'{name}-{sev}')
    os.makedirs(folder, exist_ok=True)
    for i, crop in enumerate(crops):
        out = corrupt(crop, name, sev, seed=corruption_seed(seed, c_i, sev, i))
        write_png(osp.join(folder, f'{i:05d}.png'), out)
    return f'{name}-{sev}'


def write_digitsc(digitscenes_root: str, out_dir: str, severities: Sequence[int] = (5, ),
                  corruptions: Sequence[str] = CORRUPTIONS, size: int = 32,
                  seed: int = 0, jobs: int = 1) -> dict:
    """Write DigitsC (clean train / test crops and corrupted test crops); returns the meta.
    ``jobs`` processes write one corrupted domain each at a time (same output for any
    ``jobs``)."""
    coco_dir = osp.join(digitscenes_root, 'coco')
    meta = dict(name='DigitsC', classes=list(CLASSES), size=size, seed=seed,
                severities=list(severities), corruptions=list(corruptions), splits={})
    for split in ('train', 'test'):
        crops, labels = digit_crops(coco_dir, split, size)
        root = osp.join(out_dir, split)
        os.makedirs(osp.join(root, 'clean'), exist_ok=True)
        with open(osp.join(root, 'labels.txt'), 'w') as f:
            f.write('\n'.join(str(int(v)) for v in labels) + '\n')
        for i, crop in enumerate(crops):
            write_png(osp.join(root, 'clean', f'{i:05d}.png'), crop)
        domains = ['clean']
        if split == 'test':
            tasks = [(root, crops, name, c_i, sev, seed)
                     for c_i, name in enumerate(corruptions) for sev in severities]
            domains += map_jobs(_write_domain, tasks, jobs)
        meta['splits'][split] = dict(crops=int(len(labels)), domains=domains,
                                     per_class=np.bincount(labels, minlength=10).tolist())
    with open(osp.join(out_dir, 'meta.json'), 'w') as f:
        json.dump(meta, f, indent=1)
    return meta
