"""DigitScenes-Fog: the target domain of source-free domain-adaptive detection.

DigitScenes' own scenes (same renderer, digits and photos; other scene seeds) under the
ImageNet-C ``fog`` corruption (mtkit's formula, :func:`mtkit.generate.corruptions.fog`):

* ``train``: each image at a severity drawn uniformly from ``severities``, digit classes drawn
  with **falling frequencies** (the commonest ``imbalance`` times the rarest, geometric in
  between, in the order ``class_order``), digit scans from DigitScenes' train pool. Adaptation
  treats it as unlabeled (``instances_train-unlabeled.json``); its labels
  (``instances_train.json``) serve the target oracle and pseudo-label diagnostics only.
* ``val`` / ``test``: every scene at every severity (balanced classes, digit scans from the
  val / test pools, which the source model never saw), one image id per (severity, scene):
  ``severity * 100000 + scene``. Each image entry records ``fog_severity``, which
  :class:`mtkit.evaluation.GroupedCocoMetric` reports per group.

Layout (COCO, detection)::

    coco/annotations/instances_train.json, instances_train-unlabeled.json
    coco/annotations/instances_{val,test}.json          (all severities)
    coco/annotations/instances_{val,test}_fog{s}.json   (one severity)
    coco/train/{id:06d}.png, coco/{val,test}/fog{s}/{scene:06d}.png
    meta.json
"""
import json
import os
import os.path as osp
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .common import CLASSES, write_png
from .corruptions import CORRUPTIONS, corrupt, corruption_seed
from .digitscenes import (DigitScenesConfig, digit_pools, load_digits, load_photos, make_scene,
                          mask_to_bbox)

SEVERITY_KEY = 'fog_severity'
#: Image ids of the val / test copies: ``severity * ID_STRIDE + scene``.
ID_STRIDE = 100000


@dataclass
class DigitScenesFogConfig:
    """Generation parameters (all recorded in ``meta.json``)."""
    seed: int = 0
    num_images: Dict[str, int] = field(
        default_factory=lambda: dict(train=2000, val=200, test=200))
    severities: Tuple[int, ...] = (1, 2, 3, 4, 5)
    #: Frequency of the commonest digit class over the rarest in ``train`` (1 = balanced).
    imbalance: float = 10.0
    #: Digits from the commonest to the rarest in ``train``; None: a permutation drawn from
    #: ``seed``.
    class_order: Optional[Tuple[int, ...]] = None
    img_size: int = 128

    def validate(self) -> None:
        bad = [s for s in self.num_images if s not in ('train', 'val', 'test')]
        if bad:
            raise ValueError(f'num_images keys must be train / val / test, got {bad}')
        if not self.severities or any(s not in (1, 2, 3, 4, 5) for s in self.severities):
            raise ValueError(f'severities must be some of 1..5, got {self.severities}')
        if self.imbalance < 1:
            raise ValueError(f'imbalance must be >= 1 (commonest / rarest), got '
                             f'{self.imbalance}')
        if self.class_order is not None and sorted(self.class_order) != list(range(10)):
            raise ValueError(f'class_order must be a permutation of the digits 0..9, got '
                             f'{self.class_order}')

    def order(self) -> List[int]:
        if self.class_order is not None:
            return list(self.class_order)
        return [int(d) for d in np.random.default_rng([self.seed, 4242]).permutation(10)]


def class_frequencies(order: Sequence[int], imbalance: float) -> np.ndarray:
    """(10,) probabilities of the digits: ``imbalance ** (-rank / 9)`` normalised, rank 0 the
    first digit of ``order`` (so the first is ``imbalance`` times as frequent as the last)."""
    probs = np.empty(len(order))
    for rank, digit in enumerate(order):
        probs[digit] = imbalance ** (-rank / (len(order) - 1))
    return probs / probs.sum()


def class_picker(labels: np.ndarray, pool: np.ndarray, probs: np.ndarray):
    """``pick(rng)`` for :func:`make_scene`: a class drawn with ``probs``, then a scan of that
    class from ``pool``."""
    by_class = [pool[labels[pool] == c] for c in range(len(probs))]
    empty = [c for c, scans in enumerate(by_class) if len(scans) == 0]
    if empty:
        raise ValueError(f'digit pool has no scan of class(es) {empty}')

    def pick(rng: np.random.Generator) -> int:
        scans = by_class[int(rng.choice(len(probs), p=probs))]
        return int(scans[rng.integers(len(scans))])
    return pick


def _annotations(instances: list, image_id: int, start_id: int) -> List[dict]:
    from pycocotools import mask as mask_utils
    anns = []
    for k, inst in enumerate(instances):
        rle = mask_utils.encode(np.asfortranarray(inst['mask'].astype(np.uint8)))
        anns.append(dict(id=start_id + k, image_id=image_id, category_id=inst['label'] + 1,
                         bbox=mask_to_bbox(inst['mask']), area=float(inst['mask'].sum()),
                         iscrowd=0, segmentation=dict(size=rle['size'],
                                                      counts=rle['counts'].decode('ascii')),
                         digit_index=inst['digit_index']))
    return anns


def _write_json(path: str, split: str, images: list, anns: list) -> None:
    categories = [dict(id=i + 1, name=n, supercategory='digit') for i, n in enumerate(CLASSES)]
    with open(path, 'w') as f:
        json.dump(dict(info=dict(description=f'DigitScenes-Fog {split}', version='1.0'),
                       images=images, annotations=anns, categories=categories), f)


def generate_fog(out_dir: str, cfg: DigitScenesFogConfig = DigitScenesFogConfig()) -> dict:
    """Generate DigitScenes-Fog into ``out_dir``; returns the metadata written to
    ``meta.json`` (per split: images, objects, objects per class)."""
    cfg.validate()
    scene_cfg = DigitScenesConfig(seed=cfg.seed, img_size=cfg.img_size)
    digits, labels = load_digits()
    pools = digit_pools(len(digits), scene_cfg.pool_fractions, cfg.seed)
    photos = load_photos()
    order = cfg.order()
    probs = class_frequencies(order, cfg.imbalance)
    ann_dir = osp.join(out_dir, 'coco', 'annotations')
    os.makedirs(ann_dir, exist_ok=True)
    fog_i = CORRUPTIONS.index('fog')
    stats = {}
    for split_i, split in enumerate(('train', 'val', 'test')):
        n = cfg.num_images.get(split, 0)
        if n == 0:
            continue
        # scene seeds apart from DigitScenes' own ([seed, 0..3]): other scenes
        rng = np.random.default_rng([cfg.seed, 100 + split_i])
        pick = class_picker(labels, pools[split], probs) if split == 'train' else None
        images: Dict[int, list] = {s: [] for s in cfg.severities}
        anns: Dict[int, list] = {s: [] for s in cfg.severities}
        per_class = [0] * len(CLASSES)
        for i in range(n):
            img, instances, _ = make_scene(rng, digits, labels, pools[split], photos,
                                           scene_cfg, pick)
            for inst in instances:
                per_class[inst['label']] += 1
            if split == 'train':
                sevs = [int(cfg.severities[rng.integers(len(cfg.severities))])]
            else:
                sevs = list(cfg.severities)
            for sev in sevs:
                image_id = i + 1 if split == 'train' else sev * ID_STRIDE + i + 1
                rel = f'{i + 1:06d}.png' if split == 'train' else f'fog{sev}/{i + 1:06d}.png'
                path = osp.join(out_dir, 'coco', split, rel)
                os.makedirs(osp.dirname(path), exist_ok=True)
                write_png(path, corrupt(img, 'fog', sev,
                                        seed=corruption_seed(cfg.seed + split_i, fog_i, sev, i)))
                images[sev].append({'id': image_id, 'file_name': rel, 'width': cfg.img_size,
                                    'height': cfg.img_size, SEVERITY_KEY: sev})
                anns[sev] += _annotations(instances, image_id,
                                          start_id=sum(map(len, anns.values())) + 1)
        all_images = sorted((im for s in cfg.severities for im in images[s]),
                            key=lambda im: im['id'])
        all_anns = sorted((a for s in cfg.severities for a in anns[s]), key=lambda a: a['id'])
        _write_json(osp.join(ann_dir, f'instances_{split}.json'), split, all_images, all_anns)
        if split == 'train':
            _write_json(osp.join(ann_dir, 'instances_train-unlabeled.json'), split, all_images,
                        [])
        else:
            for sev in cfg.severities:
                _write_json(osp.join(ann_dir, f'instances_{split}_fog{sev}.json'),
                            f'{split} fog {sev}', images[sev], anns[sev])
        stats[split] = dict(images=len(all_images), scenes=n, objects=len(all_anns),
                            objects_per_class=dict(zip(CLASSES, per_class)))
    meta = dict(name='DigitScenes-Fog', config=asdict(cfg), classes=CLASSES,
                class_order=[CLASSES[d] for d in order],
                train_class_probs=dict(zip(CLASSES, np.round(probs, 4).tolist())),
                rarest=[CLASSES[d] for d in order[-3:]], splits=stats)
    with open(osp.join(out_dir, 'meta.json'), 'w') as f:
        json.dump(meta, f, indent=2)
    return meta
