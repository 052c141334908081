"""MovingDigits: generated video clips of digits moving over photo / texture backgrounds, with
per-frame semantic and instance masks and boxes, for semi-supervised video segmentation
(Stable Mean Teacher).

Each clip has ``frames`` frames. Its background is fixed (a dimmed scikit-image photo crop or a
procedural texture, as in DigitScenes); 1 to ``max_objects`` digits (sklearn scans, disjoint
pools per split) each move with a constant velocity, bouncing off the borders, and grow or shrink
by a constant factor per frame. Later digits occlude earlier ones. Every frame gets its own
sensor noise, so pixels whose label does not change still change slightly.

Layout written by :func:`generate_moving_digits`::

    {split}/{clip:05d}/img_{t:02d}.png     RGB frame
    {split}/{clip:05d}/sem_{t:02d}.png     semantic train ids: 0 background, digit d -> d + 1
    {split}/{clip:05d}/inst_{t:02d}.png    instance ids (uint16 PNG): 0 background, 1..K
    annotations/{split}.json               clips, frames, instances (label, per-frame box)
    splits/train_labeled@{p}.txt           clip ids with labels (p% of the train clips)
    splits/train_unlabeled@{p}.txt         the other train clips
    meta.json
"""
import json
import os
import os.path as osp
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np

from .common import SEG_CLASSES, write_png
from .digitscenes import (background, bright_colour, digit_pools, load_digits, load_photos,
                          mask_to_bbox)

SPLITS = ('train', 'val', 'test')


@dataclass
class MovingDigitsConfig:
    """Generation settings (all sizes in pixels; speeds in pixels per frame)."""
    seed: int = 0
    num_clips: Dict[str, int] = field(default_factory=lambda: dict(train=1200, val=60, test=60))
    frames: int = 8
    img_size: int = 64
    min_digit: int = 16
    max_digit: int = 30
    max_objects: int = 3
    max_speed: float = 3.0
    max_scale_rate: float = 0.04  # per-frame size factor in [1 - r, 1 + r]
    texture_prob: float = 0.3
    pool_fractions: Tuple[float, float, float] = (0.7, 0.15, 0.15)
    labeled_percents: Tuple[float, ...] = (10, 20)

    def __post_init__(self) -> None:
        if self.frames < 2:
            raise ValueError(f'MovingDigits: frames must be >= 2 (a clip), got {self.frames}')
        if not 4 <= self.min_digit <= self.max_digit <= self.img_size:
            raise ValueError(f'MovingDigits: need 4 <= min_digit <= max_digit <= img_size, got '
                             f'{self.min_digit}, {self.max_digit}, {self.img_size}')
        bad = [k for k in self.num_clips if k not in SPLITS]
        if bad:
            raise ValueError(f'MovingDigits: num_clips keys must be in {SPLITS}, got {bad}')
        if any(not 0 < p < 100 for p in self.labeled_percents):
            raise ValueError(f'MovingDigits: labeled_percents must be in (0, 100), got '
                             f'{self.labeled_percents}')


def make_clip(rng: np.random.Generator, digits: np.ndarray, labels: np.ndarray,
              pool: np.ndarray, photos: List[np.ndarray], cfg: MovingDigitsConfig
              ) -> Tuple[List[np.ndarray], List[np.ndarray], List[np.ndarray], List[dict]]:
    """Render one clip.

    Returns:
        ``(frames, semantic maps, instance maps, objects)``: ``frames`` uint8 (H, W, 3) RGB;
        semantic maps uint8 train ids; instance maps uint16 ids; ``objects`` one dict per digit
        (``instance_id``, ``label``, ``digit_index``, ``boxes``: per-frame COCO box or None
        when the digit is hidden in that frame).
    """
    size, n_frames = cfg.img_size, cfg.frames
    bg = background(rng, photos, size, cfg.texture_prob)
    objects = []
    for k in range(int(rng.integers(1, cfg.max_objects + 1))):
        idx = int(pool[rng.integers(len(pool))])
        s0 = float(rng.uniform(cfg.min_digit, cfg.max_digit))
        speed = rng.uniform(0.3, 1.0) * cfg.max_speed
        angle = rng.uniform(0, 2 * np.pi)
        objects.append(dict(
            instance_id=k + 1, label=int(labels[idx]), digit_index=idx, size=s0,
            rate=float(rng.uniform(1 - cfg.max_scale_rate, 1 + cfg.max_scale_rate)),
            centre=np.array([rng.uniform(s0 / 2, size - s0 / 2),
                             rng.uniform(s0 / 2, size - s0 / 2)]),
            velocity=np.array([np.cos(angle), np.sin(angle)]) * speed,
            colour=bright_colour(rng), strength=float(rng.uniform(0.85, 1.0)), boxes=[]))
    frames, sems, insts = [], [], []
    for _ in range(n_frames):
        img = bg.copy()
        inst = np.zeros((size, size), np.uint16)
        for obj in objects:
            s = int(round(np.clip(obj['size'], cfg.min_digit * 0.5, cfg.max_digit * 1.5)))
            s = max(4, min(s, size))
            x0 = int(round(obj['centre'][0] - s / 2))
            y0 = int(round(obj['centre'][1] - s / 2))
            x0, y0 = min(max(x0, 0), size - s), min(max(y0, 0), size - s)
            alpha = np.clip(cv2.resize(digits[obj['digit_index']], (s, s),
                                       interpolation=cv2.INTER_CUBIC), 0, 1) * obj['strength']
            region = img[y0:y0 + s, x0:x0 + s]
            img[y0:y0 + s, x0:x0 + s] = (region * (1 - alpha[..., None])
                                         + obj['colour'] * alpha[..., None])
            inst[y0:y0 + s, x0:x0 + s][alpha > 0.4] = obj['instance_id']  # occludes earlier
            # move: constant velocity, bounce off the borders, constant scale rate
            obj['centre'] = obj['centre'] + obj['velocity']
            for d in range(2):
                lo, hi = s / 2, size - s / 2
                if not lo <= obj['centre'][d] <= hi:
                    obj['velocity'][d] = -obj['velocity'][d]
                    obj['centre'][d] = float(np.clip(obj['centre'][d], lo, hi))
            obj['size'] *= obj['rate']
        img = img + rng.normal(0, 0.02, img.shape).astype(np.float32)
        frames.append((np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8))
        sem = np.zeros((size, size), np.uint8)
        for obj in objects:
            mask = inst == obj['instance_id']
            sem[mask] = obj['label'] + 1
            obj['boxes'].append(mask_to_bbox(mask) if mask.any() else None)
        sems.append(sem)
        insts.append(inst)
    out = [dict(instance_id=o['instance_id'], label=o['label'], digit_index=o['digit_index'],
                boxes=o['boxes']) for o in objects]
    return frames, sems, insts, out


def _write_uint16_png(path: str, arr: np.ndarray) -> None:
    if not cv2.imwrite(path, arr.astype(np.uint16)):
        raise OSError(f'could not write {path}')


def write_clip_splits(out_dir: str, num_train: int, percents: Sequence[float],
                      seed: int) -> List[str]:
    """Labeled / unlabeled train clip lists per percent (at least one labeled clip); a smaller
    percent's labeled clips are a subset of a larger one's."""
    order = np.random.default_rng(seed + 104_729).permutation(num_train)
    os.makedirs(osp.join(out_dir, 'splits'), exist_ok=True)
    written = []
    for p in percents:
        n = max(1, int(round(num_train * p / 100.0)))
        labeled = sorted(int(i) for i in order[:n])
        unlabeled = sorted(int(i) for i in order[n:])
        tag = f'{p:g}'
        for name, ids in ((f'train_labeled@{tag}', labeled), (f'train_unlabeled@{tag}',
                                                               unlabeled)):
            path = osp.join(out_dir, 'splits', f'{name}.txt')
            with open(path, 'w') as f:
                f.write(''.join(f'{i:05d}\n' for i in ids))
            written.append(path)
    return written


def generate_moving_digits(out_dir: str, cfg: MovingDigitsConfig = MovingDigitsConfig()
                           ) -> dict:
    """Write MovingDigits to ``out_dir``; returns the meta (also in ``meta.json``)."""
    digits, labels = load_digits()
    photos = load_photos()
    pools = digit_pools(len(digits), cfg.pool_fractions, cfg.seed)
    meta = dict(name='MovingDigits', config=asdict(cfg), classes=list(SEG_CLASSES), splits={})
    os.makedirs(osp.join(out_dir, 'annotations'), exist_ok=True)
    for s_i, split in enumerate(SPLITS):
        n = cfg.num_clips.get(split, 0)
        rng = np.random.default_rng([cfg.seed, s_i])
        clips, objects = [], 0
        for c in range(n):
            frames, sems, insts, objs = make_clip(rng, digits, labels, pools[split], photos,
                                                  cfg)
            folder = osp.join(out_dir, split, f'{c:05d}')
            os.makedirs(folder, exist_ok=True)
            files = []
            for t, (img, sem, inst) in enumerate(zip(frames, sems, insts)):
                names = dict(img=f'img_{t:02d}.png', sem=f'sem_{t:02d}.png',
                             inst=f'inst_{t:02d}.png')
                write_png(osp.join(folder, names['img']), img)
                write_png(osp.join(folder, names['sem']), sem)
                _write_uint16_png(osp.join(folder, names['inst']), inst)
                files.append({k: f'{split}/{c:05d}/{v}' for k, v in names.items()})
            clips.append(dict(id=f'{c:05d}', frames=files, objects=objs))
            objects += len(objs)
        with open(osp.join(out_dir, 'annotations', f'{split}.json'), 'w') as f:
            json.dump(dict(classes=list(SEG_CLASSES), frames_per_clip=cfg.frames, clips=clips),
                      f)
        meta['splits'][split] = dict(clips=n, objects=objects)
    write_clip_splits(out_dir, cfg.num_clips.get('train', 0), cfg.labeled_percents, cfg.seed)
    with open(osp.join(out_dir, 'meta.json'), 'w') as f:
        json.dump(meta, f, indent=1)
    return meta
