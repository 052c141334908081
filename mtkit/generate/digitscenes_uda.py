"""DigitScenes-UDA: a synthetic -> realistic benchmark of domain-adaptive segmentation.

Two domains of DigitScenes' renderer (the same digit scans, other scene seeds), each with a
class distribution of its own, in the Cityscapes layout of DigitScenes-seg:

* **source** (synthetic, labeled): flat-coloured digits with hard edges on procedural
  backgrounds (stripes, checkerboards, smooth noise), no pixel noise, digit classes drawn
  with frequencies falling ``imbalance`` times from the first digit of ``source_order`` to the
  last. ``train`` and a small ``val`` (to check the source model), both labeled.
* **target** (realistic): textured digits (a photo crop tinted with a colour), blended into
  their background with an opacity below 1, on dimmed photo crops, with pixel noise, then
  each image under ``fog`` or ``contrast`` (mtkit's ImageNet-C formulas) at a severity drawn
  from ``severities``; digit classes falling ``imbalance`` times in ``target_order``.
  ``train`` is for the unlabeled branch: its label maps are written for the target oracle and
  the pseudo-label diagnostics only. ``val`` / ``test`` are labeled, with balanced classes.

The source and target train splits draw their digit scans from disjoint halves of
DigitScenes' train pool; target val / test from its val / test pools. Deterministic for a
seed.

Layout::

    source/leftImg8bit/{train,val}/synthville/synthville_000000_{id:06d}_leftImg8bit.png
    source/gtFine/{train,val}/synthville/..._gtFine_labelTrainIds.png
    target/leftImg8bit/{train,val,test}/realville/realville_000000_{id:06d}_leftImg8bit.png
    target/gtFine/{train,val,test}/realville/..._gtFine_labelTrainIds.png
    {source,target}/splits/{split}.txt   every image of the split (mmseg ``ann_file`` lists)
    target/corruptions.json     {split: {stem: [corruption, severity]}}
    meta.json
"""
import json
import os
import os.path as osp
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from .common import CLASSES, IMG_SUFFIX, SEG_CLASSES, SEG_SUFFIX, write_png
from .corruptions import CORRUPTIONS, corrupt, corruption_seed
from .digitscenes import (DigitScenesConfig, bright_colour, digit_pools, load_digits,
                          load_photos, make_scene)
from .digitscenes_fog import class_frequencies, class_picker

DOMAINS = {'source': 'synthville', 'target': 'realville'}
#: The target's corruptions (one per image, drawn uniformly).
TARGET_CORRUPTIONS = ('fog', 'contrast')


@dataclass
class DigitScenesUDAConfig:
    """Generation parameters (all recorded in ``meta.json``)."""
    seed: int = 0
    num_source: Dict[str, int] = field(default_factory=lambda: dict(train=2000, val=200))
    num_target: Dict[str, int] = field(
        default_factory=lambda: dict(train=2000, val=300, test=300))
    img_size: int = 128
    #: Frequency of the commonest digit class over the rarest, in each domain's train split.
    imbalance: float = 4.0
    #: Digits from the commonest to the rarest; None: the source's a permutation drawn from
    #: ``seed``, the target's the source's reversed (its rarest classes are the target's
    #: commonest).
    source_order: Optional[Tuple[int, ...]] = None
    target_order: Optional[Tuple[int, ...]] = None
    #: The target's corruption severities. At 3 and opacities down to 0.7 the digits were too
    #: faint: the source model reached 10.5 digit-only mIoU on the target val split and
    #: self-training collapsed to background; at (1, 2) and 0.9-1.0 the source model has 21.2.
    severities: Tuple[int, ...] = (1, 2)
    #: Opacity range of the target's blended digits.
    target_opacity: Tuple[float, float] = (0.9, 1.0)

    def validate(self) -> None:
        bad = [s for s in self.num_source if s not in ('train', 'val')]
        bad += [s for s in self.num_target if s not in ('train', 'val', 'test')]
        if bad:
            raise ValueError(f'num_source keys must be train / val and num_target keys '
                             f'train / val / test, got {bad}')
        if not self.severities or any(s not in (1, 2, 3, 4, 5) for s in self.severities):
            raise ValueError(f'severities must be some of 1..5, got {self.severities}')
        if self.imbalance < 1:
            raise ValueError(f'imbalance must be >= 1 (commonest / rarest), got '
                             f'{self.imbalance}')
        for name in ('source_order', 'target_order'):
            order = getattr(self, name)
            if order is not None and sorted(order) != list(range(10)):
                raise ValueError(f'{name} must be a permutation of the digits 0..9, got '
                                 f'{order}')
        lo, hi = self.target_opacity
        if not 0 < lo <= hi <= 1:
            raise ValueError(f'target_opacity must be (lo, hi) with 0 < lo <= hi <= 1, got '
                             f'{self.target_opacity}')

    def orders(self) -> Tuple[List[int], List[int]]:
        """(source order, target order), commonest digit first."""
        source = (list(self.source_order) if self.source_order is not None else
                  [int(d) for d in np.random.default_rng([self.seed, 2718]).permutation(10)])
        target = (list(self.target_order) if self.target_order is not None else source[::-1])
        return source, target


def flat_painter(rng: np.random.Generator, region: np.ndarray, shape: np.ndarray):
    """The synthetic domain's digit: one bright colour, hard edges (the scan thresholded at
    0.5). Returns ``(region, visible)``."""
    visible = shape > 0.5
    out = region.copy()
    out[visible] = bright_colour(rng)
    return out, visible


def textured_painter(photos: List[np.ndarray], opacity: Tuple[float, float]):
    """The realistic domain's digit painter: the scan's soft shape filled with a crop of a
    photo tinted towards a bright colour (35% photo, 65% colour), blended over the background
    with an opacity drawn from ``opacity``. The visible mask is the scan above 0.4."""
    def paint(rng: np.random.Generator, region: np.ndarray, shape: np.ndarray):
        s = shape.shape[0]
        photo = photos[rng.integers(len(photos))]
        h, w = photo.shape[:2]
        crop = int(rng.integers(min(32, h, w), min(h, w) + 1))
        y, x = rng.integers(0, h - crop + 1), rng.integers(0, w - crop + 1)
        texture = cv2.resize(photo[y:y + crop, x:x + crop], (s, s), interpolation=cv2.INTER_AREA)
        fill = 0.35 * texture + 0.65 * bright_colour(rng)
        alpha = (shape * rng.uniform(*opacity))[..., None]
        return region * (1 - alpha) + fill * alpha, shape > 0.4
    return paint


def _write_split(out_dir: str, domain: str, split: str, stem_id: int, img: np.ndarray,
                 instances: list, size: int) -> Tuple[str, np.ndarray]:
    """Write one image and its train-id label map; returns (stem, label map)."""
    city = DOMAINS[domain]
    stem = f'{city}_000000_{stem_id:06d}'
    img_dir = osp.join(out_dir, domain, 'leftImg8bit', split, city)
    gt_dir = osp.join(out_dir, domain, 'gtFine', split, city)
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(gt_dir, exist_ok=True)
    seg = np.zeros((size, size), np.uint8)
    for inst in instances:
        seg[inst['mask']] = inst['label'] + 1
    write_png(osp.join(img_dir, stem + IMG_SUFFIX), img)
    write_png(osp.join(gt_dir, stem + SEG_SUFFIX), seg)
    return stem, seg


def pixel_shares(counts: Sequence[int]) -> Dict[str, float]:
    total = max(int(sum(counts)), 1)
    return {name: round(int(c) / total, 4) for name, c in zip(SEG_CLASSES, counts)}


def generate_uda(out_dir: str, cfg: DigitScenesUDAConfig = DigitScenesUDAConfig()) -> dict:
    """Generate DigitScenes-UDA into ``out_dir``; returns the metadata written to
    ``meta.json`` (per domain and split: images, objects, the pixel share of each class)."""
    cfg.validate()
    digits, labels = load_digits()
    scene_cfg = DigitScenesConfig(seed=cfg.seed, img_size=cfg.img_size)
    pools = digit_pools(len(digits), scene_cfg.pool_fractions, cfg.seed)
    halves = np.array_split(pools['train'], 2)  # disjoint scans for the two train splits
    photos = load_photos()
    source_order, target_order = cfg.orders()
    probs = dict(source=class_frequencies(source_order, cfg.imbalance),
                 target=class_frequencies(target_order, cfg.imbalance))
    painters = dict(source=flat_painter,
                    target=textured_painter(photos, tuple(cfg.target_opacity)))
    stats: Dict[str, dict] = {}
    corruptions: Dict[str, Dict[str, list]] = {}
    jobs = [('source', s, n) for s, n in cfg.num_source.items()]
    jobs += [('target', s, n) for s, n in cfg.num_target.items()]
    for domain, split, n in jobs:
        if n == 0:
            continue
        domain_i = list(DOMAINS).index(domain)
        split_i = ('train', 'val', 'test').index(split)
        # scene seeds apart from DigitScenes' ([seed, 0..3]) and DigitScenes-Fog's (100..102)
        rng = np.random.default_rng([cfg.seed, 200 + 10 * domain_i + split_i])
        pool = halves[domain_i] if split == 'train' else pools[split]
        pick = class_picker(labels, pool, probs[domain]) if split == 'train' else None
        scene_cfg.texture_prob = 1.0 if domain == 'source' else 0.0
        pixels = np.zeros(len(SEG_CLASSES), np.int64)
        objects, stems = 0, []
        for i in range(n):
            img, instances, _ = make_scene(rng, digits, labels, pool, photos, scene_cfg, pick,
                                           painter=painters[domain],
                                           noise=0.0 if domain == 'source' else 0.02)
            if domain == 'target':
                name = TARGET_CORRUPTIONS[int(rng.integers(len(TARGET_CORRUPTIONS)))]
                sev = int(cfg.severities[rng.integers(len(cfg.severities))])
                img = np.asarray(corrupt(img, name, sev, seed=corruption_seed(
                    cfg.seed + 10 * domain_i + split_i, CORRUPTIONS.index(name), sev, i)))
            stem, seg = _write_split(out_dir, domain, split, i + 1, img, instances,
                                     cfg.img_size)
            stems.append(f'{DOMAINS[domain]}/{stem}')
            if domain == 'target':
                corruptions.setdefault(split, {})[stem] = [name, sev]
            objects += len(instances)
            pixels += np.bincount(seg.ravel(), minlength=len(SEG_CLASSES))
        os.makedirs(osp.join(out_dir, domain, 'splits'), exist_ok=True)
        with open(osp.join(out_dir, domain, 'splits', f'{split}.txt'), 'w') as f:
            f.write('\n'.join(stems) + '\n')
        stats[f'{domain}/{split}'] = dict(images=n, objects=objects,
                                          pixel_shares=pixel_shares(pixels))
    if corruptions:
        with open(osp.join(out_dir, 'target', 'corruptions.json'), 'w') as f:
            json.dump(corruptions, f)
    meta = dict(name='DigitScenes-UDA', config=asdict(cfg), classes=SEG_CLASSES,
                source_order=[CLASSES[d] for d in source_order],
                target_order=[CLASSES[d] for d in target_order],
                source_class_probs=dict(zip(CLASSES, np.round(probs['source'], 4).tolist())),
                target_class_probs=dict(zip(CLASSES, np.round(probs['target'], 4).tolist())),
                splits=stats)
    with open(osp.join(out_dir, 'meta.json'), 'w') as f:
        json.dump(meta, f, indent=2)
    return meta
