"""MMEngine hook that makes pseudo-label quality visible during semi-supervised training."""
import math
from typing import Any, Dict, List, Optional

import torch
from mmengine.hooks import Hook

from ..registry import HOOKS, register
from .teacher_student import unwrap_model

DATA_BATCH = Optional[Any]


def _ratio(num: float, den: float) -> Optional[float]:
    return num / den if den > 0 else None


@register(HOOKS)
class PseudoLabelDiagnosticsHook(Hook):
    """Every ``interval`` iterations, log what the pseudo labels look like.

    Reads the model's running counts (``model.pseudo_stats``, kept on the device and read
    once per interval) and filter thresholds (``model.pseudo_filter.thresholds()``), and the
    loss values of each step, then writes to MMEngine's message hub (so the text log and
    every visualizer backend, tensorboard included, get them) under ``pseudo/``:

    * ``boxes_per_img`` (kept), ``raw_per_img`` (teacher boxes before filtering);
    * ``precision`` and ``recall`` at the model's ``diagnose_iou_thr`` when the unlabeled
      images' ground truth reaches the model (``diagnose_pseudo_labels=True``); precision is
      NaN for an interval in which no pseudo box was kept (undefined, and never stale);
    * ``unsup_share``: unsupervised loss terms / all loss terms, averaged over steps;
    * ``thr_mean`` and, per class, ``thr/<class name>`` for every filter with thresholds
      of the last filter with thresholds in the chain (the per-class values go to the
      visualizer backends only, not the text log).

    A growing ``nonfinite_count`` of a GMM filter (``nonfinite='skip'``) is logged as a
    warning with the classes concerned.

    Args:
        interval: Log every ``interval`` training iterations.
        per_class: Also write the per-class thresholds.
    """

    priority = 'BELOW_NORMAL'

    def __init__(self, interval: int = 50, per_class: bool = True) -> None:
        if interval < 1:
            raise ValueError(f'PseudoLabelDiagnosticsHook: interval must be >= 1, got '
                             f'{interval}')
        self.interval = interval
        self.per_class = per_class
        self._share: List[torch.Tensor] = []
        self._nonfinite_seen: Dict[str, torch.Tensor] = {}
        self._warned_no_gt = False

    @staticmethod
    def _model(runner):
        model = unwrap_model(runner.model)
        if not hasattr(model, 'pseudo_stats') or not hasattr(model, 'pseudo_filter'):
            raise AttributeError(
                f'PseudoLabelDiagnosticsHook needs a model with pseudo_stats and pseudo_filter '
                f'(e.g. mtkit.MeanTeacherDetector); {type(model).__name__} has neither. Remove '
                f'the hook from custom_hooks or wrap the model.')
        return model

    def before_train(self, runner) -> None:
        self._model(runner)
        self._classes = None
        meta = getattr(runner.train_dataloader.dataset, 'metainfo', None) or {}
        if meta.get('classes'):
            self._classes = list(meta['classes'])

    def after_train_iter(self, runner, batch_idx: int, data_batch: DATA_BATCH = None,
                         outputs: Optional[dict] = None) -> None:
        if outputs:
            unsup = [v for k, v in outputs.items() if k.startswith('unsup_') and 'loss' in k]
            every = [v for k, v in outputs.items() if 'loss' in k and k != 'loss']
            if every:
                total = sum(v.detach().float() for v in every)
                part = sum(v.detach().float() for v in unsup) if unsup else total * 0.0
                self._share.append(torch.where(total > 0, part / total, total * 0.0))
        if (runner.iter + 1) % self.interval != 0:
            return
        self._log(runner)

    def _log(self, runner) -> None:
        model = self._model(runner)
        stats = model.pseudo_stats.pop()
        scalars = {}
        if stats.get('images', 0) > 0:
            scalars['pseudo/boxes_per_img'] = stats['pseudo'] / stats['images']
            scalars['pseudo/raw_per_img'] = stats['raw'] / stats['images']
        if stats.get('gt_images', 0) > 0:
            precision = _ratio(stats['pseudo_correct'], stats['pseudo'])
            recall = _ratio(stats['gt_found'], stats['gt'])
            # Undefined (no pseudo box kept in the interval) is logged as NaN, not skipped: the
            # log shows the current value of each key, which would otherwise be a stale one.
            scalars['pseudo/precision'] = math.nan if precision is None else precision
            if recall is not None:
                scalars['pseudo/recall'] = recall
            elif not self._warned_no_gt:
                self._warned_no_gt = True
                runner.logger.warning(
                    'PseudoLabelDiagnosticsHook: diagnose_pseudo_labels is on but the unlabeled '
                    'images arrived without ground-truth boxes; load the held-out annotations '
                    '(e.g. *-unlabeled.gt.json with LoadAnnotations) to get recall.')
        if self._share:
            scalars['pseudo/unsup_share'] = float(torch.stack(self._share).mean())
            self._share = []
        per_class = {}
        thresholds = list(model.pseudo_filter.thresholds().values())
        if thresholds:  # the last thresholding filter of the chain decides
            thr = thresholds[-1].detach().float().cpu()
            scalars['pseudo/thr_mean'] = float(thr.mean())
            if self.per_class and thr.ndim == 1:
                for c, v in enumerate(thr.tolist()):
                    cname = self._classes[c] if self._classes and c < len(self._classes) else c
                    per_class[f'pseudo/thr/{cname}'] = v
        for key, value in scalars.items():
            runner.message_hub.update_scalar(f'train/{key}', value)
        if per_class and runner.visualizer is not None:
            runner.visualizer.add_scalars(per_class, step=runner.iter + 1)
        self._warn_nonfinite(runner, model)

    def _warn_nonfinite(self, runner, model) -> None:
        for i, f in enumerate(model.pseudo_filter.filters):
            count = getattr(f, 'nonfinite_count', None)
            if count is None:
                continue
            key = f'{i}.{type(f).__name__}'
            seen = self._nonfinite_seen.get(key, torch.zeros_like(count))
            new = (count - seen).cpu()
            if int(new.sum()) > 0:
                classes = [c for c, n in enumerate(new.tolist()) if n > 0]
                runner.logger.warning(
                    f'{key}: {int(new.sum())} non-finite teacher score(s) skipped before '
                    f'iteration {runner.iter + 1} (classes {classes}); the teacher may be '
                    f'diverging.')
            self._nonfinite_seen[key] = count.clone()
