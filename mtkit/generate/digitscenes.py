"""DigitScenes: mtkit's own benchmark data, generated offline in COCO and Cityscapes formats.

Objects are scikit-learn's bundled handwritten digits (1,797 real 8x8 scans), upscaled,
coloured and pasted (1-6 per image, possibly overlapping) on dimmed random crops of
scikit-image's bundled photos or on procedural textures. The digit scans are split into
disjoint pools for train / val / test, so no object instance leaks across splits.

Everything is deterministic for a seed. Pure numpy + OpenCV; the writers only serialize.
"""
import json
import os
import os.path as osp
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from .common import CLASSES, IMG_SUFFIX, SEG_CLASSES, SEG_SUFFIX, write_png

CITY = 'digitville'
SPLITS = ('train', 'val', 'test')
#: Split name of the extra unlabeled-only pool (``DigitScenesConfig.extra_unlabeled``).
UNLABELED = 'unlabeled'
# Photos shipped inside scikit-image (no download needed).
_PHOTOS = ('astronaut', 'camera', 'coffee', 'chelsea', 'rocket', 'coins', 'moon', 'page',
           'grass', 'gravel', 'brick', 'hubble_deep_field', 'immunohistochemistry', 'horse',
           'text', 'cell', 'retina', 'logo', 'motorcycle_left', 'color')


@dataclass
class DigitScenesConfig:
    """Generation parameters (all recorded in ``meta.json``)."""
    seed: int = 0
    num_images: Dict[str, int] = field(
        default_factory=lambda: dict(train=2000, val=300, test=300))
    img_size: int = 128
    min_digit: int = 12
    max_digit: int = 48
    max_objects: int = 6
    pool_fractions: Tuple[float, float, float] = (0.7, 0.15, 0.15)
    texture_prob: float = 0.3
    max_overlap_iou: float = 0.4
    percents: Tuple[float, ...] = (1, 5, 10)
    folds: Tuple[int, ...] = (1, )
    #: Extra unlabeled-only images (like COCO's unlabeled2017), digits from the train pool:
    #: ``coco/unlabeled/`` with ``instances_unlabeled.json`` (no annotations) and
    #: ``instances_unlabeled.gt.json`` (held out, for pseudo-label diagnostics and the oracle).
    extra_unlabeled: int = 0

    def validate(self) -> None:
        if self.img_size < 32:
            raise ValueError(f'img_size must be >= 32, got {self.img_size}')
        if not 4 <= self.min_digit <= self.max_digit < self.img_size:
            raise ValueError(f'need 4 <= min_digit <= max_digit < img_size, got '
                             f'{self.min_digit}, {self.max_digit}, {self.img_size}')
        if self.max_objects < 1:
            raise ValueError(f'max_objects must be >= 1, got {self.max_objects}')
        bad = [s for s in self.num_images if s not in SPLITS]
        if bad:
            raise ValueError(f'num_images keys must be in {SPLITS}, got {bad}')
        if self.extra_unlabeled < 0:
            raise ValueError(f'extra_unlabeled must be >= 0, got {self.extra_unlabeled}')


def load_digits() -> Tuple[np.ndarray, np.ndarray]:
    """The 1,797 sklearn digit scans as float32 in [0, 1] (N, 8, 8) and labels (N,)."""
    from sklearn.datasets import load_digits as sk_load
    d = sk_load()
    return (d.images / 16.0).astype(np.float32), d.target.astype(np.int64)


def digit_pools(num: int, fractions: Sequence[float], seed: int) -> Dict[str, np.ndarray]:
    """Disjoint index pools of the digit scans for each split."""
    order = np.random.default_rng(seed + 7919).permutation(num)
    cuts = np.cumsum([int(round(f * num)) for f in fractions[:-1]])
    return dict(zip(SPLITS, np.split(order, cuts)))


def load_photos() -> List[np.ndarray]:
    """The bundled scikit-image photos as float32 RGB in [0, 1] (those that load offline)."""
    from skimage import data as skdata
    photos = []
    for name in _PHOTOS:
        try:
            img = getattr(skdata, name)()
        except Exception:  # noqa: BLE001 - a photo that needs a download is simply not bundled
            continue
        img = np.asarray(img)
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, axis=2)
        img = img[..., :3].astype(np.float32)
        img /= 255.0 if img.max() > 1.0 else 1.0
        if min(img.shape[:2]) >= 64:
            photos.append(img)
    if len(photos) < 5:
        raise RuntimeError(f'only {len(photos)} scikit-image sample photos load offline; '
                           'DigitScenes needs scikit-image >= 0.19 with its bundled data')
    return photos


def procedural_texture(rng: np.random.Generator, size: int) -> np.ndarray:
    """Stripes, checkerboard or smooth noise, in random colours (float32 RGB)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    kind = rng.integers(3)
    if kind == 0:
        theta, freq = rng.uniform(0, np.pi), rng.uniform(0.05, 0.4)
        base = 0.5 + 0.5 * np.sin(freq * (np.cos(theta) * xx + np.sin(theta) * yy))
    elif kind == 1:
        cell = int(rng.integers(6, 24))
        base = (((xx // cell) + (yy // cell)) % 2).astype(np.float32)
    else:
        small = rng.random((int(rng.integers(3, 10)), ) * 2).astype(np.float32)
        base = cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC)
    c1, c2 = rng.random(3).astype(np.float32), rng.random(3).astype(np.float32)
    base = np.clip(base, 0, 1)[..., None]
    return c1 * base + c2 * (1 - base)


def background(rng: np.random.Generator, photos: List[np.ndarray], size: int,
               texture_prob: float) -> np.ndarray:
    if rng.random() < texture_prob:
        bg = procedural_texture(rng, size)
    else:
        photo = photos[rng.integers(len(photos))]
        h, w = photo.shape[:2]
        crop = int(rng.integers(min(64, h, w), min(h, w) + 1))
        y, x = rng.integers(0, h - crop + 1), rng.integers(0, w - crop + 1)
        bg = cv2.resize(photo[y:y + crop, x:x + crop], (size, size),
                        interpolation=cv2.INTER_AREA)
    return bg * rng.uniform(0.35, 0.65)  # dimmed, so that bright digits stay visible


def bright_colour(rng: np.random.Generator) -> np.ndarray:
    hsv = np.array([[[rng.uniform(0, 180), rng.uniform(0.3, 1.0) * 255,
                      rng.uniform(0.75, 1.0) * 255]]], dtype=np.float32)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32) / 255


def _iou(a: Sequence[float], b: Sequence[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def make_scene(rng: np.random.Generator, digits: np.ndarray, labels: np.ndarray,
               pool: np.ndarray, photos: List[np.ndarray], cfg: DigitScenesConfig,
               pick: Optional[Callable[[np.random.Generator], int]] = None,
               painter: Optional[Callable] = None, noise: float = 0.02
               ) -> Tuple[np.ndarray, List[dict], int]:
    """Render one image (``pick(rng)``, when given, chooses each digit scan instead of a
    uniform draw from ``pool``: e.g. a class-imbalanced draw).

    ``painter(rng, region, shape) -> (region, visible)``, when given, draws each digit
    instead of DigitScenes' bright colour over a soft alpha: ``region`` is the (s, s, 3)
    background under the digit, ``shape`` the upscaled scan in [0, 1], ``visible`` the bool
    mask of the digit's pixels (e.g. :func:`flat_painter`). ``noise``: std of the Gaussian
    pixel noise added at the end (0: none).

    Returns:
        ``(image uint8 HxWx3 RGB, instances, fully_occluded)``: each instance has ``label``
        (0-9), ``mask`` (bool HxW, visible pixels) and ``digit_index`` (scan used);
        ``fully_occluded`` counts pasted digits hidden entirely by later ones (not annotated).
    """
    size = cfg.img_size
    img = background(rng, photos, size, cfg.texture_prob)
    placed: List[Tuple[List[float], int, np.ndarray]] = []
    for _ in range(int(rng.integers(1, cfg.max_objects + 1))):
        idx = int(pool[rng.integers(len(pool))]) if pick is None else int(pick(rng))
        for _try in range(20):
            s = int(rng.integers(cfg.min_digit, cfg.max_digit + 1))
            x, y = int(rng.integers(0, size - s + 1)), int(rng.integers(0, size - s + 1))
            box = [x, y, x + s, y + s]
            if all(_iou(box, p[0]) <= cfg.max_overlap_iou for p in placed):
                break
        else:
            continue
        shape = np.clip(cv2.resize(digits[idx], (s, s), interpolation=cv2.INTER_CUBIC), 0, 1)
        region = img[y:y + s, x:x + s]
        if painter is None:
            alpha = shape * rng.uniform(0.85, 1.0)
            colour = bright_colour(rng)
            img[y:y + s, x:x + s] = region * (1 - alpha[..., None]) + colour * alpha[..., None]
            visible = alpha > 0.4
        else:
            img[y:y + s, x:x + s], visible = painter(rng, region, shape)
        full = np.zeros((size, size), bool)
        full[y:y + s, x:x + s] = visible
        for _, _, other in placed:  # the new digit occludes the earlier ones
            other &= ~full
        placed.append((box, idx, full))
    if noise > 0:
        img = img + rng.normal(0, noise, img.shape).astype(np.float32)
    img = (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)
    instances, hidden = [], 0
    for _, idx, mask in placed:
        if not mask.any():
            hidden += 1
            continue
        instances.append(dict(label=int(labels[idx]), mask=mask, digit_index=idx))
    return img, instances, hidden


def mask_to_bbox(mask: np.ndarray) -> List[float]:
    """COCO ``[x, y, w, h]`` of the visible pixels (pixel-edge coordinates)."""
    ys, xs = np.nonzero(mask)
    return [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1),
            float(ys.max() - ys.min() + 1)]


#: Labeled fractions of the segmentation splits (``cityscapes/splits``).
SEG_FRACTIONS = ('1/16', '1/8', '1/4', '1/2')


def write_seg_splits(out_dir: str, cfg: 'DigitScenesConfig') -> list:
    """Labeled/unlabeled name lists of the Cityscapes-layout copy, one pair per fraction of
    :data:`SEG_FRACTIONS` and fold of ``cfg.folds`` (``cityscapes/splits/train.{fold}@1_8.txt``
    etc.)."""
    from .cityscapes_split import write_cityscapes_splits
    return write_cityscapes_splits(osp.join(out_dir, 'cityscapes'), SEG_FRACTIONS,
                                   list(cfg.folds))


def generate(out_dir: str, cfg: DigitScenesConfig = DigitScenesConfig()) -> dict:
    """Generate DigitScenes into ``out_dir``; returns the metadata written to ``meta.json``.

    Layout::

        coco/annotations/instances_{train,val,test}.json   (+ labeled/unlabeled splits)
        coco/{train,val,test}/{image_id:06d}.png
        coco/unlabeled/{image_id:06d}.png, coco/annotations/instances_unlabeled[.gt].json
                                                     (with extra_unlabeled > 0)
        cityscapes/leftImg8bit/{split}/digitville/digitville_000000_{id:06d}_leftImg8bit.png
        cityscapes/gtFine/{split}/digitville/digitville_000000_{id:06d}_gtFine_labelTrainIds.png
        cityscapes/splits/train.{fold}@1_{8,16,...}[-unlabeled].txt
        meta.json
    """
    from pycocotools import mask as mask_utils

    from .coco_split import write_splits
    cfg.validate()
    digits, labels = load_digits()
    pools = digit_pools(len(digits), cfg.pool_fractions, cfg.seed)
    photos = load_photos()
    ann_dir = osp.join(out_dir, 'coco', 'annotations')
    os.makedirs(ann_dir, exist_ok=True)
    categories = [dict(id=i + 1, name=n, supercategory='digit') for i, n in enumerate(CLASSES)]
    stats = {}
    sizes = [(split, cfg.num_images.get(split, 0)) for split in SPLITS]
    sizes.append((UNLABELED, cfg.extra_unlabeled))
    for split_i, (split, n) in enumerate(sizes):
        if n == 0:
            continue
        rng = np.random.default_rng([cfg.seed, split_i])
        pool = pools['train' if split == UNLABELED else split]
        img_dir = osp.join(out_dir, 'coco', split)
        city = split != UNLABELED  # the extra pool is for detection only
        city_img = osp.join(out_dir, 'cityscapes', 'leftImg8bit', split, CITY)
        city_gt = osp.join(out_dir, 'cityscapes', 'gtFine', split, CITY)
        for d in (img_dir, city_img, city_gt) if city else (img_dir, ):
            os.makedirs(d, exist_ok=True)
        images, anns, hidden_total = [], [], 0
        for i in range(n):
            img, instances, hidden = make_scene(rng, digits, labels, pool, photos, cfg)
            hidden_total += hidden
            image_id = i + 1
            file_name = f'{image_id:06d}.png'
            path = osp.join(img_dir, file_name)
            write_png(path, img)
            images.append(dict(id=image_id, file_name=file_name, width=cfg.img_size,
                               height=cfg.img_size))
            seg = np.zeros((cfg.img_size, cfg.img_size), np.uint8)
            for inst in instances:
                seg[inst['mask']] = inst['label'] + 1
                rle = mask_utils.encode(np.asfortranarray(inst['mask'].astype(np.uint8)))
                anns.append(dict(id=len(anns) + 1, image_id=image_id,
                                 category_id=inst['label'] + 1, bbox=mask_to_bbox(inst['mask']),
                                 area=float(inst['mask'].sum()), iscrowd=0,
                                 segmentation=dict(size=rle['size'],
                                                   counts=rle['counts'].decode('ascii')),
                                 digit_index=inst['digit_index']))
            if not city:
                continue
            stem = f'{CITY}_000000_{image_id:06d}'
            city_path = osp.join(city_img, stem + IMG_SUFFIX)
            if osp.exists(city_path):
                os.remove(city_path)
            try:
                os.link(path, city_path)
            except OSError:
                write_png(city_path, img)
            write_png(osp.join(city_gt, stem + SEG_SUFFIX), seg)
        coco = dict(info=dict(description=f'DigitScenes {split}', version='1.0'),
                    images=images, annotations=anns, categories=categories)
        ann_file = osp.join(ann_dir, f'instances_{split}.json')
        if split == UNLABELED:  # annotations held out, like the splits' *-unlabeled.gt.json
            with open(osp.join(ann_dir, f'instances_{split}.gt.json'), 'w') as f:
                json.dump(coco, f)
            coco = dict(coco, annotations=[])
        with open(ann_file, 'w') as f:
            json.dump(coco, f)
        stats[split] = dict(images=n, objects=len(anns), fully_occluded=hidden_total,
                            digit_pool=len(pool))
        if split == 'train' and cfg.percents:
            write_splits(ann_file, list(cfg.percents), list(cfg.folds))
    if cfg.num_images.get('train', 0) > 1:
        write_seg_splits(out_dir, cfg)
    meta = dict(name='DigitScenes', config=asdict(cfg), classes=CLASSES,
                seg_classes=SEG_CLASSES, splits=stats)
    with open(osp.join(out_dir, 'meta.json'), 'w') as f:
        json.dump(meta, f, indent=2)
    return meta
