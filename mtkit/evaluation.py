"""Metrics mtkit registers: top-1 accuracy / error of a classifier; frame, clip and temporal
stability scores of clip segmentation."""
from typing import List, Sequence

import torch

from mmengine.evaluator import BaseMetric

from .registry import METRICS, register


def mean_iou(intersect: torch.Tensor, union: torch.Tensor, empty: float = float('nan')
             ) -> float:
    """mIoU (%) from per-class intersection and union areas: the mean IoU over the classes with
    a non-zero union (mmseg's nan-mean); ``empty`` when no class has one."""
    present = union > 0
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


@register(METRICS)
class ClipSegMetric(BaseMetric):
    """Scores of per-frame segmentation of clips (samples with ``pred_sem_seg`` and
    ``gt_sem_seg`` of shape (T, H, W)), in %:

    * ``mIoU``: frame-level mIoU, every frame of every clip pooled (mmseg's
      ``IoUMetric.intersect_and_union`` per frame, summed; classes never present in labels or
      predictions are left out of the mean);
    * ``clip_mIoU``: the mean over clips of each clip's mIoU over its frames;
    * ``flicker``: temporal instability, the mean over consecutive frame pairs of the fraction
      of pixels whose predicted class changes where the ground truth does not (lower is
      better; ignored pixels left out).

    Args:
        num_classes: Classes, or None to read them from the dataset meta.
        ignore_index: Label value that is not scored.
    """

    default_prefix = 'clip'

    def __init__(self, num_classes: int = None, ignore_index: int = 255, **kwargs) -> None:
        super().__init__(**kwargs)
        self.num_classes, self.ignore_index = num_classes, ignore_index

    def _classes(self) -> int:
        if self.num_classes is not None:
            return self.num_classes
        return len(self.dataset_meta['classes'])

    def process(self, data_batch, data_samples: Sequence) -> None:
        from mmseg.evaluation import IoUMetric
        c = self._classes()
        for s in data_samples:
            get = (lambda k: s[k]['data']) if isinstance(s, dict) else \
                (lambda k: getattr(s, k).data)
            pred, gt = get('pred_sem_seg').cpu(), get('gt_sem_seg').cpu().to(torch.long)
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
            self.results.append((inter, union, clip_miou, flicker))

    def compute_metrics(self, results: list) -> dict:
        inter = sum(r[0] for r in results)
        union = sum(r[1] for r in results)
        flicker = [f for r in results for f in r[3]]
        return dict(mIoU=mean_iou(inter, union),
                    clip_mIoU=sum(r[2] for r in results) / max(len(results), 1),
                    flicker=100.0 * sum(flicker) / max(len(flicker), 1))
