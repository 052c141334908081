"""DigitScenes-C: the DigitScenes segmentation test images with the 15 ImageNet-C corruptions,
for test-time adaptation of a segmentor.

Layout written by :func:`write_digitscenes_c` (Cityscapes-style, readable by mmseg's
``BaseSegDataset`` with ``img_path='leftImg8bit/{domain}'``, ``seg_map_path='gtFine/{split}'``)::

    leftImg8bit/{corruption}-{severity}/{city}/{name}_leftImg8bit.png
    gtFine/{split}/{city}/{name}_gtFine_labelTrainIds.png   (copied from DigitScenes)
    meta.json
"""
import json
import os
import os.path as osp
import shutil
from typing import List, Optional, Sequence

import cv2

from .common import IMG_SUFFIX, SEG_SUFFIX, map_jobs, write_png
from .corruptions import CORRUPTIONS, corrupt, corruption_seed



def _images(cityscapes_root: str, split: str) -> List[str]:
    root = osp.join(cityscapes_root, 'leftImg8bit', split)
    if not osp.isdir(root):
        raise FileNotFoundError(f'{root} not found: generate DigitScenes first '
                                f'(python tools/make_digitscenes.py)')
    out = []
    for dirpath, _, files in os.walk(root):
        out += [osp.relpath(osp.join(dirpath, f), root) for f in files if f.endswith(IMG_SUFFIX)]
    if not out:
        raise ValueError(f'{root}: no *{IMG_SUFFIX} images')
    return sorted(out)


def _write_domain(task) -> str:
    cityscapes_root, out_dir, split, rels, c_i, sev, seed = task
    domain = f'{CORRUPTIONS[c_i]}-{sev}'
    for i, rel in enumerate(rels):
        path = osp.join(cityscapes_root, 'leftImg8bit', split, rel)
        bgr = cv2.imread(path, cv2.IMREAD_COLOR)
        if bgr is None:
            raise FileNotFoundError(f'cannot read {path}')
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        out = corrupt(rgb, CORRUPTIONS[c_i], sev, seed=corruption_seed(seed, c_i, sev, i))
        dst = osp.join(out_dir, 'leftImg8bit', domain, rel)
        os.makedirs(osp.dirname(dst), exist_ok=True)
        write_png(dst, out)
    return domain


def write_digitscenes_c(cityscapes_root: str, out_dir: str, severities: Sequence[int] = (5, ),
                        corruptions: Sequence[str] = CORRUPTIONS, split: str = 'test',
                        seed: int = 0, max_images: Optional[int] = None, jobs: int = 1) -> dict:
    """Corrupt the first ``max_images`` (all by default) images of DigitScenes' ``split`` with
    every corruption and severity (``jobs`` processes, one domain each at a time; the output
    does not depend on ``jobs``), copy their label maps; returns the meta (also written)."""
    unknown = [c for c in corruptions if c not in CORRUPTIONS]
    if unknown:
        raise ValueError(f'unknown corruption(s) {unknown}; expected some of {CORRUPTIONS}')
    rels = _images(cityscapes_root, split)[:max_images]
    for rel in rels:
        gt_rel = rel[:-len(IMG_SUFFIX)] + SEG_SUFFIX
        src = osp.join(cityscapes_root, 'gtFine', split, gt_rel)
        if not osp.isfile(src):
            raise FileNotFoundError(f'{src}: label map of {rel} not found')
        dst = osp.join(out_dir, 'gtFine', split, gt_rel)
        os.makedirs(osp.dirname(dst), exist_ok=True)
        shutil.copyfile(src, dst)
    tasks = [(cityscapes_root, out_dir, split, rels, CORRUPTIONS.index(name), sev, seed)
             for name in corruptions for sev in severities]
    domains = map_jobs(_write_domain, tasks, jobs)
    meta = dict(name='DigitScenes-C', source=osp.abspath(cityscapes_root), split=split,
                images=len(rels), severities=list(severities), corruptions=list(corruptions),
                seed=seed, domains=domains)
    with open(osp.join(out_dir, 'meta.json'), 'w') as f:
        json.dump(meta, f, indent=1)
    return meta
