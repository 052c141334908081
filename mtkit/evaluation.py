"""Metrics mtkit registers: top-1 accuracy / error of a classifier."""
from typing import List, Sequence

from mmengine.evaluator import BaseMetric

from .registry import METRICS, register


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
