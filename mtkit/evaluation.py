"""Metrics mtkit registers: top-1 accuracy / error of a classifier; mIoU with a foreground-only
mIoU beside it (images); frame, clip and temporal stability scores of clip segmentation; COCO
box AP per group of images (e.g. per fog severity) with the rare classes' mean AP."""
from typing import List, Sequence

import numpy as np
import torch

from mmdet.evaluation import CocoMetric
from mmengine.evaluator import BaseMetric

from .utils.errors import ConfigKeyError
from .registry import METRICS, register


def mean_iou(intersect: torch.Tensor, union: torch.Tensor, empty: float = float('nan'),
             exclude: Sequence[int] = ()) -> float:
    """mIoU (%) from per-class intersection and union areas: the mean IoU over the classes with
    a non-zero union (mmseg's nan-mean), leaving out the class indices in ``exclude`` (e.g. the
    background, for a foreground-only mIoU); ``empty`` when no class is left."""
    present = union > 0
    if len(exclude):
        present = present.clone()
        present[list(exclude)] = False
    if not bool(present.any()):
        return empty
    return 100.0 * float((intersect[present] / union[present]).mean())


@register(METRICS)
class TopOneAccuracy(BaseMetric):
    """Top-1 accuracy and error (%) of ``pred_label`` against ``gt_label``."""

    default_prefix = 'cls'

    def process(self, data_batch, data_samples: Sequence) -> None:
        for s in data_samples:
            pred = s['pred_label'] if isinstance(s, dict) else s.pred_label
            gt = s['gt_label'] if isinstance(s, dict) else s.gt_label
            self.results.append(int(pred) == int(gt))

    def compute_metrics(self, results: List[bool]) -> dict:
        acc = 100.0 * sum(results) / max(len(results), 1)
        return dict(accuracy=acc, error=100.0 - acc)


def check_background(background: Sequence[int], num_classes: int, owner: str) -> None:
    """Raise unless every background class index lies in [0, num_classes)."""
    bad = [int(c) for c in background if not 0 <= int(c) < num_classes]
    if bad:
        raise ConfigKeyError(f'{owner}: background_classes {bad} are not class indices of a '
                             f'{num_classes}-class dataset (expected 0..{num_classes - 1})')


def class_names(meta, num_classes: int, owner: str) -> List[str]:
    """The dataset meta's class names, one per class, checked against the class count."""
    names = list((meta or {}).get('classes') or ())
    if len(names) != num_classes:
        raise ConfigKeyError(f'{owner}: per_class needs the dataset meta to name each of the '
                             f'{num_classes} classes; it names {len(names)}: {names}')
    return names


def _get(sample, key: str) -> torch.Tensor:
    """``sample.<key>.data`` of a data sample or of its dict form."""
    return sample[key]['data'] if isinstance(sample, dict) else getattr(sample, key).data


class _SegAreaMetric(BaseMetric):
    """Shared by the segmentation metrics: the class count (given, or from the dataset meta),
    the ignored label value and the background classes, checked against the class count."""

    def __init__(self, num_classes: int = None, ignore_index: int = 255,
                 background_classes: Sequence[int] = (), **kwargs) -> None:
        super().__init__(**kwargs)
        self.num_classes, self.ignore_index = num_classes, ignore_index
        self.background_classes = tuple(background_classes)

    def _classes(self) -> int:
        """The class count, with the background classes checked against it."""
        c = self.num_classes if self.num_classes is not None else \
            len(self.dataset_meta['classes'])
        check_background(self.background_classes, c, type(self).__name__)
        return c


@register(METRICS)
class ForegroundIoUMetric(_SegAreaMetric):
    """mmseg's mIoU and, beside it, the mIoU over the foreground classes only (%):

    * ``mIoU``: every class (mmseg's ``IoUMetric`` areas and nan-mean, not rounded);
    * ``fg_mIoU``: the same areas, the classes in ``background_classes`` left out. On digit data
      (class 0 background, ~90% of the pixels) it is the digit-only mIoU, which an all-background
      prediction cannot inflate;
    * with ``per_class=True``, ``IoU.{class name}`` for every class (%, nan for a class that is
      in neither the labels nor the predictions), the per-class table mmseg only prints.

    Args:
        background_classes: Class indices left out of ``fg_mIoU`` (e.g. ``(0, )``).
        num_classes: Classes, or None to read them from the dataset meta.
        ignore_index: Label value that is not scored.
        per_class: Also report each class's IoU (names from the dataset meta).
    """

    def __init__(self, background_classes: Sequence[int], num_classes: int = None,
                 ignore_index: int = 255, per_class: bool = False, **kwargs) -> None:
        super().__init__(num_classes, ignore_index, background_classes, **kwargs)
        self.per_class = per_class

    def process(self, data_batch, data_samples: Sequence) -> None:
        from mmseg.evaluation import IoUMetric
        c = self._classes()
        for s in data_samples:
            pred, gt = _get(s, 'pred_sem_seg').squeeze(0).cpu(), _get(s, 'gt_sem_seg').squeeze(0)
            i, u, _, _ = IoUMetric.intersect_and_union(pred, gt.cpu().to(torch.long), c,
                                                       self.ignore_index)
            self.results.append((i.double(), u.double()))

    def compute_metrics(self, results: list) -> dict:
        inter = sum(r[0] for r in results)
        union = sum(r[1] for r in results)
        out = dict(mIoU=mean_iou(inter, union),
                   fg_mIoU=mean_iou(inter, union, exclude=self.background_classes))
        if self.per_class:
            names = class_names(self.dataset_meta, len(inter), type(self).__name__)
            for c, name in enumerate(names):
                out[f'IoU.{name}'] = 100.0 * float(inter[c] / union[c]) if union[c] > 0 \
                    else float('nan')
        return out


@register(METRICS)
class ClipSegMetric(_SegAreaMetric):
    """Scores of per-frame segmentation of clips (samples with ``pred_sem_seg`` and
    ``gt_sem_seg`` of shape (T, H, W)), in %:

    * ``mIoU``: frame-level mIoU, every frame of every clip pooled (mmseg's
      ``IoUMetric.intersect_and_union`` per frame, summed; classes never present in labels or
      predictions are left out of the mean);
    * ``clip_mIoU``: the mean over clips of each clip's mIoU over its frames;
    * ``flicker``: temporal instability, the mean over consecutive frame pairs of the fraction
      of pixels whose predicted class changes where the ground truth does not (lower is
      better; ignored pixels left out);
    * ``fg_mIoU``: ``mIoU`` without the ``background_classes`` (digit-only on MovingDigits);
    * ``fg_flicker``: flicker on the pixels that the ground truth labels as the same foreground
      class in both frames, pooled over all frame pairs (changed / such pixels). An
      all-background prediction scores 0 on ``flicker``'s background pixels but cannot hide
      here: it never flickers, yet ``fg_mIoU`` exposes it.

    Args:
        num_classes: Classes, or None to read them from the dataset meta.
        ignore_index: Label value that is not scored.
        background_classes: Class indices left out of ``fg_mIoU`` and ``fg_flicker``
            (default: class 0, the background of the digit datasets).
    """

    default_prefix = 'clip'

    def __init__(self, num_classes: int = None, ignore_index: int = 255,
                 background_classes: Sequence[int] = (0, ), **kwargs) -> None:
        super().__init__(num_classes, ignore_index, background_classes, **kwargs)

    def process(self, data_batch, data_samples: Sequence) -> None:
        from mmseg.evaluation import IoUMetric
        c = self._classes()
        bg = torch.tensor(self.background_classes, dtype=torch.long)
        for s in data_samples:
            pred, gt = _get(s, 'pred_sem_seg').cpu(), _get(s, 'gt_sem_seg').cpu().to(torch.long)
            if pred.shape != gt.shape or pred.dim() != 3:
                raise ValueError(f'ClipSegMetric: pred_sem_seg {tuple(pred.shape)} and '
                                 f'gt_sem_seg {tuple(gt.shape)} must both be (T, H, W)')
            inter = torch.zeros(c, dtype=torch.float64)
            union = torch.zeros(c, dtype=torch.float64)
            for p_t, g_t in zip(pred, gt):
                i, u, _, _ = IoUMetric.intersect_and_union(p_t, g_t, c, self.ignore_index)
                inter += i.double()
                union += u.double()
            clip_miou = mean_iou(inter, union, empty=0.0)
            static = (gt[1:] == gt[:-1]) & (gt[1:] != self.ignore_index)
            changed = (pred[1:] != pred[:-1]) & static
            flicker = [float(ch.sum()) / max(float(st.sum()), 1.0)
                       for ch, st in zip(changed, static)]
            fg_static = static & ~torch.isin(gt[1:], bg)
            fg = (int((changed & fg_static).sum()), int(fg_static.sum()))
            self.results.append((inter, union, clip_miou, flicker, fg))

    def compute_metrics(self, results: list) -> dict:
        inter = sum(r[0] for r in results)
        union = sum(r[1] for r in results)
        flicker = [f for r in results for f in r[3]]
        fg_changed, fg_static = sum(r[4][0] for r in results), sum(r[4][1] for r in results)
        return dict(mIoU=mean_iou(inter, union),
                    clip_mIoU=sum(r[2] for r in results) / max(len(results), 1),
                    flicker=100.0 * sum(flicker) / max(len(flicker), 1),
                    fg_mIoU=mean_iou(inter, union, exclude=list(self.background_classes)),
                    fg_flicker=100.0 * fg_changed / max(fg_static, 1))


@register(METRICS)
class GroupedCocoMetric(CocoMetric):
    """mmdet's ``CocoMetric`` over all images, then again over each group of images, and the
    mean AP of the rare classes.

    The groups are the values of one field of the annotation file's image entries
    (``group_key``; e.g. ``fog_severity`` in DigitScenes-Fog): each group's ``bbox_mAP`` and
    ``bbox_mAP_50`` are reported as ``{group_prefix}{value}_bbox_mAP`` (e.g. ``fog3_bbox_mAP``,
    evaluated on that group's images only). With ``rare_classes``, ``rare_mAP`` is the mean of
    those classes' AP (``classwise`` is switched on for it).

    Args:
        group_key: Field of every image entry of ``ann_file`` that names its group.
        group_prefix: Prefix of the group keys (default: ``group_key``'s first word, e.g.
            ``fog``).
        rare_classes: Class names averaged into ``rare_mAP``.
        **kwargs: ``CocoMetric``'s arguments (``ann_file`` is required).
    """

    def __init__(self, group_key: str, group_prefix: str = None,
                 rare_classes: Sequence[str] = (), **kwargs) -> None:
        if kwargs.get('ann_file') is None:
            raise ConfigKeyError('GroupedCocoMetric: give ann_file (the groups are read from '
                                 'its image entries)')
        if rare_classes:
            kwargs['classwise'] = True
        super().__init__(**kwargs)
        self.group_key = group_key
        self.group_prefix = group_prefix if group_prefix is not None else \
            group_key.split('_')[0]
        self.rare_classes = tuple(rare_classes)
        self.ann_file = kwargs['ann_file']

    def groups(self) -> dict:
        """``{value: [image id, ...]}`` of the annotation file, by ``group_key``."""
        out, missing = {}, []
        for img_id, img in self._coco_api.imgs.items():
            if self.group_key not in img:
                missing.append(img.get('file_name', img_id))
                continue
            out.setdefault(img[self.group_key], []).append(img_id)
        if missing:
            raise ConfigKeyError(
                f'GroupedCocoMetric: {len(missing)} image entries of {self.ann_file} have no '
                f'{self.group_key!r} field (first: {missing[0]}); group_key must name a field '
                f'of every image entry')
        return dict(sorted(out.items()))

    def compute_metrics(self, results: list) -> dict:
        if self.rare_classes:
            unknown = [c for c in self.rare_classes if c not in self.dataset_meta['classes']]
            if unknown:
                raise ConfigKeyError(f'GroupedCocoMetric.rare_classes: {unknown} are not '
                                     f'classes of the dataset {self.dataset_meta["classes"]}')
        self.img_ids = None
        out = super().compute_metrics(results)
        if 'bbox_mAP' not in out:  # no prediction at all: CocoMetric reports nothing, nor do we
            return out
        everything, classwise = self.img_ids, self.classwise
        self.classwise = False
        try:
            for value, ids in self.groups().items():
                wanted = set(ids)
                part = [r for r in results if r[1]['img_id'] in wanted]
                if not part:
                    continue
                self.img_ids = ids
                sub = super().compute_metrics(part)
                for key in ('bbox_mAP', 'bbox_mAP_50'):
                    if key in sub:
                        out[f'{self.group_prefix}{value}_{key}'] = sub[key]
        finally:
            self.img_ids, self.classwise = everything, classwise
        if self.rare_classes:
            aps = [out[f'{c}_precision'] for c in self.rare_classes]
            out['rare_mAP'] = float(np.nanmean(aps)) if not all(np.isnan(aps)) else float('nan')
        return out
