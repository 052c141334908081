"""Labeled / unlabeled splits of a Cityscapes-layout folder, as name lists mmseg reads.

A Cityscapes-layout root holds ``leftImg8bit/{split}/{city}/{name}_leftImg8bit.png`` and
``gtFine/{split}/{city}/{name}_gtFine_labelTrainIds.png``. mmseg's ``CityscapesDataset`` reads
an ``ann_file`` of lines ``{city}/{name}`` (relative to the image folder, without suffix), so a
split is two such text files:

* ``{split}.{seed}@{num}_{den}.txt``: the labeled images, e.g. ``train.1@1_16.txt``;
* ``{split}.{seed}@{num}_{den}-unlabeled.txt``: all the others.

Exactly ``round(N * fraction)`` images are labeled (at least 1, at most N - 1), sampled
without replacement with ``numpy.random.default_rng(seed)``; the same error rules as the COCO
split tool (:mod:`mtkit.generate.coco_split`).
"""
import os
import os.path as osp
from fractions import Fraction
from typing import List, Tuple, Union

import numpy as np

from .coco_split import SplitError
from .common import IMG_SUFFIX, SEG_SUFFIX



def parse_fraction(value: Union[str, float, Fraction]) -> Fraction:
    """``'1/16'``, ``0.0625`` or a Fraction -> Fraction in (0, 1); a clear error otherwise."""
    try:
        frac = Fraction(str(value)).limit_denominator(10000)
    except (ValueError, ZeroDivisionError) as e:
        raise SplitError(f'fraction must look like 1/16 or 0.25, got {value!r}') from e
    if not 0 < frac < 1:
        raise SplitError(f'fraction must be in (0, 1), got {value!r}')
    return frac


def split_list_names(split: str, fraction: Fraction, seed: int) -> Tuple[str, str]:
    tag = f'{split}.{seed}@{fraction.numerator}_{fraction.denominator}'
    return f'{tag}.txt', f'{tag}-unlabeled.txt'


def list_images(root: str, split: str = 'train') -> List[str]:
    """Sorted ``{city}/{name}`` of every image of ``split`` that has its label map."""
    img_dir = osp.join(root, 'leftImg8bit', split)
    seg_dir = osp.join(root, 'gtFine', split)
    if not osp.isdir(img_dir):
        raise SplitError(f'{root}: no image folder leftImg8bit/{split} (expected the Cityscapes '
                         f'layout leftImg8bit/{split}/<city>/<name>{IMG_SUFFIX})')
    names = []
    for city in sorted(os.listdir(img_dir)):
        city_dir = osp.join(img_dir, city)
        if not osp.isdir(city_dir):
            continue
        for fname in sorted(os.listdir(city_dir)):
            if not fname.endswith(IMG_SUFFIX):
                continue
            name = f'{city}/{fname[:-len(IMG_SUFFIX)]}'
            seg = osp.join(seg_dir, name + SEG_SUFFIX)
            if not osp.isfile(seg):
                raise SplitError(f'{osp.join(city_dir, fname)} has no label map; expected {seg}')
            names.append(name)
    if not names:
        raise SplitError(f'{img_dir}: no *{IMG_SUFFIX} images; nothing to split')
    return names


def split_cityscapes(names: List[str], fraction: Fraction, seed: int
                     ) -> Tuple[List[str], List[str]]:
    """(labeled, unlabeled) name lists, both sorted."""
    n = len(names)
    n_lab = min(max(int(round(n * fraction)), 1), n - 1) if n > 1 else 1
    order = np.random.default_rng(seed).permutation(n)
    lab = set(order[:n_lab].tolist())
    return ([x for i, x in enumerate(names) if i in lab],
            [x for i, x in enumerate(names) if i not in lab])


def write_cityscapes_splits(root: str, fractions, seeds, split: str = 'train',
                            out_dir: str = None) -> List[str]:
    """Write the name lists of every (fraction, seed) under ``out_dir`` (``root/splits``)."""
    fracs = [parse_fraction(f) for f in fractions]  # bad arguments fail before any disk scan
    names = list_images(root, split)
    out_dir = out_dir or osp.join(root, 'splits')
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for frac in fracs:
        for seed in seeds:
            lab, unl = split_cityscapes(names, frac, seed)
            for fname, items in zip(split_list_names(split, frac, seed), (lab, unl)):
                path = osp.join(out_dir, fname)
                with open(path, 'w') as f:
                    f.write('\n'.join(items) + '\n')
                written.append(path)
    return written
