"""MMEngine hook that makes pseudo-label quality visible during semi-supervised training."""
from typing import Any, Dict, List, Optional

import torch
from mmengine.hooks import Hook

from ..registry import HOOKS, register
from ..utils.errors import ConfigKeyError
from .teacher_student import check_interval, contract_of, unwrap_model

DATA_BATCH = Optional[Any]


@register(HOOKS)
class PseudoLabelDiagnosticsHook(Hook):
    """Every ``interval`` iterations, log what the pseudo labels look like, for detection,
    segmentation and video alike.

    Reads the model's pseudo-label summary (``model.pseudo_label_scalars()``, the
    teacher-student contract: running counts kept on the device and read once per interval),
    its filter thresholds (``model.pseudo_filter.thresholds()``, where it has a filter chain),
    and the loss values of each step, then writes to MMEngine's message hub (so the text log
    and every visualizer backend, tensorboard included, get them) under ``pseudo/``:

    * boxes: ``boxes_per_img`` (kept), ``raw_per_img`` (teacher boxes before filtering),
      ``kept_share``; with held-out ground truth (``diagnose_pseudo_labels=True``)
      ``precision`` and ``recall`` at the model's ``diagnose_iou_thr`` (precision is NaN for an
      interval in which no pseudo box was kept: undefined, and never stale);
    * pixels: ``kept_share`` (kept / valid pixels) and, with held-out label maps, ``accuracy``
      of the kept pixels;
    * ``unsup_share``: unsupervised loss terms / all loss terms, averaged over steps;
    * ``thr_mean`` and, per class, ``thr/<class name>`` of the last filter with thresholds in
      the chain (the per-class values go to the visualizer backends only, not the text log).

    A growing ``nonfinite_count`` of a GMM filter (``nonfinite='skip'``) is logged as a
    warning with the classes concerned.

    Args:
        interval: Log every ``interval`` training iterations.
        per_class: Also write the per-class thresholds.
    """

    priority = 'BELOW_NORMAL'

    def __init__(self, interval: int = 50, per_class: bool = True) -> None:
        check_interval('PseudoLabelDiagnosticsHook', interval)
        self.interval = interval
        self.per_class = per_class
        self._share: List[torch.Tensor] = []
        self._nonfinite_seen: Dict[str, torch.Tensor] = {}
        self._warned_no_gt = False

    @staticmethod
    def _model(runner):
        model = contract_of(unwrap_model(runner.model))
        if model is None:
            raise ConfigKeyError(
                f'PseudoLabelDiagnosticsHook needs a teacher-student model (mtkit\'s '
                f'MeanTeacherDetector, MeanTeacherSegmentor, StableMeanTeacherSegmentor); '
                f'{type(unwrap_model(runner.model)).__name__} is none. Remove the hook from '
                f'custom_hooks or wrap the model.')
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
        scalars = dict(model.pseudo_label_scalars())
        if 'pseudo/precision' in scalars and 'pseudo/recall' not in scalars \
                and not self._warned_no_gt:
            self._warned_no_gt = True
            runner.logger.warning(
                'PseudoLabelDiagnosticsHook: diagnose_pseudo_labels is on but the unlabeled '
                'images arrived without ground-truth boxes; load the held-out annotations '
                '(e.g. *-unlabeled.gt.json with LoadAnnotations) to get recall.')
        if self._share:
            scalars['pseudo/unsup_share'] = float(torch.stack(self._share).mean())
            self._share = []
        per_class = {}
        chain = getattr(model, 'pseudo_filter', None)
        thresholds = list(chain.thresholds().values()) if chain is not None else []
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
        chain = getattr(model, 'pseudo_filter', None)
        for i, f in enumerate(chain.filters if chain is not None else ()):
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
