"""Validation and test loops that evaluate each model of a teacher-student wrapper."""
import logging
from typing import Dict, List, Sequence, Union

from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner import TestLoop, ValLoop

from ..models.teacher_student import TeacherStudentModel
from ..registry import LOOPS, register
from ..utils.errors import ConfigKeyError

Metrics = Dict[str, Union[float, int]]


class _EachModelMixin:
    """Shared body of the two loops: one pass over the data per model, prefixed metrics."""

    def __init__(self, runner, dataloader, evaluator, fp16: bool = False,
                 predict_on: Sequence[str] = ('teacher', 'student'),
                 empty_result_metrics: Sequence[str] = ('coco/bbox_mAP', )) -> None:
        super().__init__(runner, dataloader, evaluator, fp16)
        if not predict_on:
            raise ConfigKeyError(f'{type(self).__name__}: predict_on must name at least one '
                                 f'model')
        self.predict_on: List[str] = list(predict_on)
        self._metric_names: List[str] = list(empty_result_metrics)

    def _run_each(self, stage: str) -> Metrics:
        runner = self.runner
        runner.call_hook(f'before_{stage}')
        runner.call_hook(f'before_{stage}_epoch')
        runner.model.eval()
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        cfg = getattr(model, 'semi_test_cfg', None)
        if cfg is None:
            raise ConfigKeyError(
                f'{type(self).__name__} needs a model with `semi_test_cfg` (a teacher-student '
                f'wrapper); {type(model).__name__} has none. Use the plain {stage} loop.')
        known = model.predictors() if isinstance(model, TeacherStudentModel) else [
            n for n in self.predict_on if hasattr(model, n)]
        missing = [n for n in self.predict_on if n not in known]
        if missing:
            raise ConfigKeyError(f'{type(self).__name__}: predict_on names {missing}, which '
                                 f'{type(model).__name__} cannot predict with (it has '
                                 f'{list(known)})')
        previous = cfg.get('predict_on', None)
        per_model = {}
        try:
            for name in self.predict_on:
                cfg['predict_on'] = name
                for idx, data_batch in enumerate(self.dataloader):
                    self.run_iter(idx, data_batch)
                per_model[name] = self.evaluator.evaluate(len(self.dataloader.dataset))
                if per_model[name]:
                    self._metric_names = list(per_model[name])
        finally:
            cfg['predict_on'] = previous
        results: Metrics = {}
        for name, metrics in per_model.items():
            if not metrics:
                print_log(f'{name} predicted nothing on the whole {stage} set; reporting '
                          f'{self._metric_names} as 0.0 for it', logger='current',
                          level=logging.WARNING)
                metrics = {k: 0.0 for k in self._metric_names}
            results.update({f'{name}/{k}': v for k, v in metrics.items()})
        runner.call_hook(f'after_{stage}_epoch', metrics=results)
        runner.call_hook(f'after_{stage}')
        return results


@register(LOOPS)
class TeacherStudentEvalLoop(_EachModelMixin, ValLoop):
    """Validate each model of a teacher-student wrapper; metrics logged as ``<model>/<name>``.

    Works with any wrapper whose ``semi_test_cfg['predict_on']`` selects the predicting model
    (mtkit's wrappers, mmdet's ``SemiBaseDetector``); the choice in effect before is restored.

    When a model predicts nothing on the whole set, mmdet's ``CocoMetric`` logs an error and
    returns no metric at all; this loop then reports that model's metrics as 0.0 (the mAP of an
    empty prediction set) under the names seen for the other models or in earlier validations
    (else ``empty_result_metrics``), and warns. A model is never dropped silently.

    Args:
        runner, dataloader, evaluator, fp16: As :class:`mmengine.runner.ValLoop`.
        predict_on: Models to evaluate, in order.
        empty_result_metrics: Names reported as 0.0 for a model that predicted nothing before
            any evaluation revealed the metric names.
    """

    def run(self) -> Metrics:
        self.val_loss.clear()
        return self._run_each('val')


@register(LOOPS)
class TeacherStudentTestLoop(_EachModelMixin, TestLoop):
    """:class:`TeacherStudentEvalLoop` for ``tools/test.py`` (the test hooks and dataloader)."""

    def run(self) -> Metrics:
        self.test_loss.clear()
        return self._run_each('test')
