"""Clip dataset and clip transforms for dense video segmentation (MovingDigits).

A data item is one clip of ``T`` frames. :class:`LoadClip` reads its frames and label maps;
:class:`ClipRandomFlipCrop` draws *one* geometric augmentation per clip and applies it to every
frame and label map alike (recording it under ``clip_aug``), so frame-to-frame motion is kept;
:class:`PackClipSegInputs` packs ``inputs`` (T, 3, H, W) uint8 and one mmseg ``SegDataSample``
whose ``gt_sem_seg`` holds the (T, H, W) label maps.
"""
import json
import os.path as osp
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.dataset import BaseDataset

from ..utils.errors import ConfigKeyError
from ..registry import DATASETS, TRANSFORMS, register
from ..generate.common import SEG_CLASSES
from .paired import LabeledUnlabeledPairs


@register(DATASETS)
class ClipSegDataset(BaseDataset):
    """Clips of a MovingDigits split (``annotations/{split}.json`` under ``data_root``).

    Args:
        split: ``'train'``, ``'val'`` or ``'test'``.
        clip_list: Optional file of clip ids, one per line (e.g.
            ``splits/train_labeled@10.txt``), relative to ``data_root``; only those clips are
            used, and an id not in the split is an error naming it.
        with_labels: False for unlabeled clips: the label maps are not read (nor packed).
    """

    METAINFO = dict(classes=SEG_CLASSES)

    def __init__(self, split: str = 'train', clip_list: Optional[str] = None,
                 with_labels: bool = True, **kwargs) -> None:
        self.split, self.clip_list, self.with_labels = split, clip_list, with_labels
        super().__init__(**kwargs)

    def load_data_list(self) -> List[dict]:
        ann_file = osp.join(self.data_root, 'annotations', f'{self.split}.json')
        if not osp.isfile(ann_file):
            raise FileNotFoundError(f'ClipSegDataset: {ann_file} not found; make the data with '
                                    f'python tools/make_moving_digits.py')
        with open(ann_file) as f:
            ann = json.load(f)
        clips = {c['id']: c for c in ann['clips']}
        ids = list(clips)
        if self.clip_list is not None:
            path = osp.join(self.data_root, self.clip_list)
            if not osp.isfile(path):
                raise FileNotFoundError(f'ClipSegDataset: clip_list {path} not found')
            with open(path) as f:
                ids = [line.strip() for line in f if line.strip()]
            unknown = [i for i in ids if i not in clips]
            if unknown:
                raise ValueError(f'ClipSegDataset: {path} names clips not in {ann_file}: '
                                 f'{unknown[:5]}')
        if not ids:
            # (MMEngine would fail later, serialising no data, with a bare numpy message)
            raise ValueError(f'ClipSegDataset: no clips in '
                             f'{path if self.clip_list is not None else ann_file}')
        out = []
        for cid in ids:
            frames = clips[cid]['frames']
            item = dict(clip_id=cid, img_paths=[osp.join(self.data_root, fr['img'])
                                                 for fr in frames])
            if self.with_labels:
                item['seg_map_paths'] = [osp.join(self.data_root, fr['sem']) for fr in frames]
            out.append(item)
        return out


@register(TRANSFORMS)
class LoadClip(BaseTransform):
    """Read every frame (BGR, as mmseg's ``LoadImageFromFile``) into ``imgs`` and, when the
    item has ``seg_map_paths``, every label map into ``gt_seg_maps``. An unreadable file, or
    frames of different sizes, is an error naming the file."""

    def transform(self, results: dict) -> dict:
        imgs = []
        for path in results['img_paths']:
            img = cv2.imread(path, cv2.IMREAD_COLOR)
            if img is None:
                raise FileNotFoundError(f'LoadClip: cannot read frame {path}')
            if imgs and img.shape != imgs[0].shape:
                raise ValueError(f'LoadClip: frame {path} is {img.shape[:2]}, the clip\'s first '
                                 f'frame {imgs[0].shape[:2]}')
            imgs.append(img)
        results['imgs'] = imgs
        results['img_shape'] = results['ori_shape'] = imgs[0].shape[:2]
        if 'seg_map_paths' in results:
            maps = []
            for path in results['seg_map_paths']:
                seg = cv2.imread(path, cv2.IMREAD_UNCHANGED)
                if seg is None:
                    raise FileNotFoundError(f'LoadClip: cannot read label map {path}')
                if seg.shape != imgs[0].shape[:2]:
                    raise ValueError(f'LoadClip: label map {path} is {seg.shape}, the frames '
                                     f'{imgs[0].shape[:2]}')
                maps.append(seg)
            results['gt_seg_maps'] = maps
        return results


@register(TRANSFORMS)
class ClipRandomFlipCrop(BaseTransform):
    """One random rescale, crop and horizontal flip per clip, the same for all its frames.

    Args:
        crop_size: (h, w) of the output (the rescaled frame is padded with 0 / 255 if smaller).
        scale_range: Range of the rescale factor, drawn once per clip.
        flip_prob: Probability of the horizontal flip.

    The draw comes from numpy's global RNG (seeded per worker by MMEngine) and is recorded as
    ``clip_aug = dict(scale, crop=(y0, x0, y1, x1), flip)``.
    """

    def __init__(self, crop_size: Tuple[int, int], scale_range: Tuple[float, float] = (1.0, 1.0),
                 flip_prob: float = 0.5) -> None:
        if not 0.0 <= flip_prob <= 1.0:
            raise ConfigKeyError(f'ClipRandomFlipCrop: flip_prob must be in [0, 1], got '
                                 f'{flip_prob}')
        if not 0 < scale_range[0] <= scale_range[1]:
            raise ConfigKeyError(f'ClipRandomFlipCrop: scale_range must be 0 < lo <= hi, got '
                                 f'{scale_range}')
        self.crop_size, self.scale_range, self.flip_prob = tuple(crop_size), scale_range, flip_prob

    @staticmethod
    def _apply(arrays: Sequence[np.ndarray], size: Tuple[int, int], crop, flip: bool,
               interp: int, pad_val: int) -> List[np.ndarray]:
        y0, x0, y1, x1 = crop
        out = []
        for a in arrays:
            a = cv2.resize(a, (size[1], size[0]), interpolation=interp)
            ch, cw = y1 - y0, x1 - x0
            if a.shape[0] < y1 or a.shape[1] < x1:  # pad to the crop window
                pad = [(0, max(0, y1 - a.shape[0])), (0, max(0, x1 - a.shape[1]))]
                pad += [(0, 0)] * (a.ndim - 2)
                a = np.pad(a, pad, constant_values=pad_val)
            a = a[y0:y0 + ch, x0:x0 + cw]
            out.append(np.ascontiguousarray(a[:, ::-1] if flip else a))
        return out

    def transform(self, results: dict) -> dict:
        h, w = results['imgs'][0].shape[:2]
        scale = float(np.random.uniform(*self.scale_range))
        size = (max(1, int(round(h * scale))), max(1, int(round(w * scale))))
        ch, cw = self.crop_size
        y0 = int(np.random.randint(0, max(size[0] - ch, 0) + 1))
        x0 = int(np.random.randint(0, max(size[1] - cw, 0) + 1))
        crop = (y0, x0, y0 + ch, x0 + cw)
        flip = bool(np.random.rand() < self.flip_prob)
        results['imgs'] = self._apply(results['imgs'], size, crop, flip, cv2.INTER_LINEAR, 0)
        if 'gt_seg_maps' in results:
            results['gt_seg_maps'] = self._apply(results['gt_seg_maps'], size, crop, flip,
                                                 cv2.INTER_NEAREST, 255)
        results['img_shape'] = (ch, cw)
        results['clip_aug'] = dict(scale=scale, crop=crop, flip=flip)
        return results


@register(TRANSFORMS)
class PackClipSegInputs(BaseTransform):
    """``inputs``: (T, 3, H, W) uint8 tensor; ``data_samples``: one mmseg ``SegDataSample``
    with ``gt_sem_seg`` (T, H, W) (when labeled) and the clip's metainfo (``clip_id``,
    ``img_paths``, ``ori_shape``, ``img_shape``, ``clip_aug``, ``num_frames``)."""

    META = ('clip_id', 'img_paths', 'ori_shape', 'img_shape', 'clip_aug')

    def transform(self, results: dict) -> dict:
        from mmengine.structures import PixelData
        from mmseg.structures import SegDataSample
        imgs = np.stack([i.transpose(2, 0, 1) for i in results['imgs']])
        sample = SegDataSample()
        meta = {k: results[k] for k in self.META if k in results}
        meta['num_frames'] = len(results['imgs'])
        sample.set_metainfo(meta)
        if 'gt_seg_maps' in results:
            seg = torch.from_numpy(np.stack(results['gt_seg_maps']).astype(np.int64))
            sample.gt_sem_seg = PixelData(data=seg)
        return dict(inputs=torch.from_numpy(np.ascontiguousarray(imgs)), data_samples=sample)


@register(DATASETS)
class SemiClipDataset(LabeledUnlabeledPairs):
    """Labeled and unlabeled clip datasets paired item by item (length of the larger): each
    item is ``dict(inputs=dict(sup=..., unsup=...), data_samples=dict(sup=..., unsup=...))``.

    Args:
        labeled, unlabeled: Configs (or instances) of clip datasets whose pipelines end with
            :class:`PackClipSegInputs`.
    """

    def __getitem__(self, idx: int) -> dict:
        lab, unl = self.pair(idx)
        return dict(inputs=dict(sup=lab['inputs'], unsup=unl['inputs']),
                    data_samples=dict(sup=lab['data_samples'], unsup=unl['data_samples']))
