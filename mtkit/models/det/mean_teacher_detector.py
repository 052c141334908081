"""Mean-teacher wrapper for any mmdet 3.x detector."""
import copy
from typing import Dict, Optional, Tuple

import torch
from mmdet.models.detectors.semi_base import SemiBaseDetector
from mmdet.models.utils import rename_loss_dict, reweight_loss_dict
from mmdet.structures import SampleList
from mmdet.structures.bbox import bbox_project, get_box_tensor
from torch import Tensor

from ...filters import FilterChain
from ...filters.diagnostics import PseudoLabelStats, pseudo_label_matches
from ...losses.ramps import ramp_weight
from ...registry import MODELS, register
from ...utils.errors import ConfigKeyError, check_cfg
from ..teachers import consensus_partner, scheduled_unsup_weight, teacher_names

BRANCHES = ('sup', 'unsup_teacher', 'unsup_student')

TRAIN_DEFAULTS = dict(
    sup_weight=1.0,
    unsup_weight=1.0,
    # Filters applied in order to the teacher's predictions, in the student's view.
    pseudo_filters=None,
    # mmdet SemiBaseDetector spellings, used when pseudo_filters is None.
    cls_pseudo_thr=0.5,
    min_pseudo_bbox_wh=(1e-2, 1e-2),
    burn_in_iters=0,
    ramp_iters=0,
    ramp='linear',
    freeze_teacher=True,
    # The unlabeled images' ground truth reaches the model (the unlabeled pipeline loads the
    # held-out annotations): measure pseudo-label precision/recall against it. Never trained on.
    diagnose_pseudo_labels=False,
    diagnose_iou_thr=0.5,
)
TEST_DEFAULTS = dict(predict_on='teacher')


@register(MODELS)
class MeanTeacherDetector(SemiBaseDetector):
    """Teacher/student pair of one mmdet detector, trained with teacher pseudo labels.

    Built on mmdet's :class:`SemiBaseDetector` (so its ``MultiBranch`` pipelines, samplers and
    checkpoints work unchanged: a plain supervised checkpoint fills both models), it adds:

    * pseudo labels filtered by a configurable :class:`~mtkit.filters.FilterChain`, applied in
      the student's view after projection through the transforms' homography matrices;
    * an unsupervised weight with burn-in and ramp (``burn_in_iters``, ``ramp_iters``,
      ``ramp``); during burn-in the teacher is not even run;
    * images without any pseudo box contribute nothing: the student's unsupervised loss is
      computed on the other images only, and a batch with none gives zero losses still
      connected to the student's parameters (the backward pass stays valid);
    * logged statistics ``unsup_pseudo_per_img`` and ``unsup_weight``, and running counts in
      ``self.pseudo_stats`` (boxes before/after filtering; with ``diagnose_pseudo_labels``
      also precision/recall counts against the unlabeled images' held-out ground truth) for
      :class:`~mtkit.hooks.PseudoLabelDiagnosticsHook`;
    * a second teacher ``teacher2`` when a filter needs one (:class:`ConsensusFilter`): it
      predicts on the same weak view and its boxes are the filter's ``context['second']``.
      Keep it an EMA of the student with a second ``EMATeacherHook(teacher_name='teacher2',
      momentum=...)`` (another momentum than the first teacher's).

    The teachers are updated by hooks (:class:`~mtkit.hooks.EMATeacherHook`), not here.

    Args:
        detector: Config of any mmdet detector.
        semi_train_cfg: Keys of ``TRAIN_DEFAULTS``; an unknown key raises.
        semi_test_cfg: ``predict_on``: ``'teacher'`` (default), ``'student'`` or another
            teacher's name (``'teacher2'``).
        num_teachers: Number of EMA teachers (``teacher``, ``teacher2``, ...): 2 for a
            consensus filter (built automatically) or for
            :class:`~mtkit.hooks.DualTeacherHook`'s switching teachers. ``active_teacher``
            names the one that makes the pseudo labels.
        data_preprocessor: Defaults to mmdet's ``MultiBranchDataPreprocessor`` around the
            detector's own preprocessor.
        init_cfg: As mmdet.
    """

    def __init__(self, detector: dict, semi_train_cfg: Optional[dict] = None,
                 semi_test_cfg: Optional[dict] = None, num_teachers: int = 1,
                 data_preprocessor: Optional[dict] = None, init_cfg=None) -> None:
        train_cfg = check_cfg('MeanTeacherDetector.semi_train_cfg', semi_train_cfg,
                              TRAIN_DEFAULTS)
        test_cfg = check_cfg('MeanTeacherDetector.semi_test_cfg', semi_test_cfg, TEST_DEFAULTS)
        ramp_weight(0, train_cfg['burn_in_iters'], train_cfg['ramp_iters'], train_cfg['ramp'])
        if data_preprocessor is None:
            inner = detector.get('data_preprocessor')
            if inner is None:
                raise ConfigKeyError('MeanTeacherDetector: give data_preprocessor, or a detector '
                                     'config with its own data_preprocessor')
            data_preprocessor = dict(type='mmdet.MultiBranchDataPreprocessor',
                                     data_preprocessor=inner)
        super().__init__(detector=detector, semi_train_cfg=train_cfg, semi_test_cfg=test_cfg,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        filters = train_cfg['pseudo_filters']
        if filters is None:
            filters = [dict(type='ScoreThreshold', thr=train_cfg['cls_pseudo_thr']),
                       dict(type='MinBoxSize', min_size=tuple(train_cfg['min_pseudo_bbox_wh']))]
        self.pseudo_filter = FilterChain(filters)
        self.pseudo_stats = PseudoLabelStats()
        unknown = [r for r in self.pseudo_filter.requires if r != 'second']
        if unknown:
            raise ConfigKeyError(f'MeanTeacherDetector: pseudo filters need {unknown}, which '
                                 f'this model cannot provide')
        if 'second' in self.pseudo_filter.requires:
            num_teachers = max(num_teachers, 2)
        self.ema_teachers = teacher_names(num_teachers)
        for name in self.ema_teachers[1:]:
            setattr(self, name, MODELS.build(detector))
            if train_cfg['freeze_teacher']:
                self.freeze(getattr(self, name))
        #: Name of the teacher that makes the pseudo labels (set by DualTeacherHook).
        self.active_teacher = 'teacher'
        valid_predictors = ('student', ) + self.ema_teachers
        if test_cfg['predict_on'] not in valid_predictors:
            raise ValueError(f'MeanTeacherDetector.semi_test_cfg.predict_on must be one of '
                             f'{valid_predictors}, got {test_cfg["predict_on"]!r}')

    def update_train_cfg(self, **kwargs) -> None:
        """Change ``semi_train_cfg`` keys (used by DualTeacherHook's per-teacher settings)."""
        check_cfg('MeanTeacherDetector.semi_train_cfg', kwargs, TRAIN_DEFAULTS)
        self.semi_train_cfg.update(kwargs)

    def predict(self, batch_inputs: Tensor, batch_data_samples: SampleList) -> SampleList:
        model = getattr(self, self.semi_test_cfg.get('predict_on', 'teacher'))
        return model(batch_inputs, batch_data_samples, mode='predict')

    # ------------------------------------------------------------------ training
    def unsup_weight(self) -> float:
        """Unsupervised loss weight at the current iteration (from MMEngine's MessageHub)."""
        return scheduled_unsup_weight(self.semi_train_cfg)

    def loss(self, multi_batch_inputs: Dict[str, Tensor],
             multi_batch_data_samples: Dict[str, SampleList]) -> dict:
        missing = [b for b in BRANCHES if b not in multi_batch_inputs]
        if missing:
            raise ConfigKeyError(
                f'MeanTeacherDetector: the training batch lacks branch(es) {missing} (has '
                f'{sorted(multi_batch_inputs)}). Labeled data must go through mmdet MultiBranch '
                f'with a "sup" branch, unlabeled data with "unsup_teacher" and "unsup_student" '
                f'(see configs/_base_/datasets/semi_digitscenes_det.py).')
        losses = self.loss_by_gt_instances(multi_batch_inputs['sup'],
                                           multi_batch_data_samples['sup'])
        weight = self.unsup_weight()
        if weight == 0.0:  # burn-in: the teacher is not run
            unsup = self._zero_unsup_losses(losses)
            unsup['unsup_pseudo_per_img'] = torch.zeros((), device=self.data_preprocessor.device)
        else:
            pseudo, batch_info = self.get_pseudo_instances(
                multi_batch_inputs['unsup_teacher'], multi_batch_data_samples['unsup_teacher'])
            student_samples = self.project_pseudo_instances(
                pseudo, multi_batch_data_samples['unsup_student'], batch_info)
            unsup = self.loss_by_pseudo_instances(multi_batch_inputs['unsup_student'],
                                                  student_samples, batch_info, losses, weight)
        unsup['unsup_weight'] = torch.tensor(weight, device=self.data_preprocessor.device)
        losses.update(unsup)
        return losses

    def _zero_unsup_losses(self, sup_losses: dict) -> dict:
        """``unsup_*`` zeros with the supervised loss keys, connected to the student's graph."""
        params = [p.view(-1)[:1] for p in self.student.parameters() if p.requires_grad]
        zero = torch.cat(params).sum() * 0.0
        out = {}
        for key, value in sup_losses.items():
            if 'loss' not in key:
                continue
            key = 'unsup_' + key[len('sup_'):] if key.startswith('sup_') else 'unsup_' + key
            out[key] = [zero] * len(value) if isinstance(value, (list, tuple)) else zero
        return out

    @torch.no_grad()
    def get_pseudo_instances(self, batch_inputs: Tensor, batch_data_samples: SampleList
                             ) -> Tuple[SampleList, Optional[dict]]:
        """Teacher predictions (weak view), mapped back to the original image frame.

        With a second teacher, its predictions (same frame) are in ``batch_info['second']``.
        """
        self._check_homography(batch_data_samples, 'unsup_teacher')
        batch_info = {}
        if 'second' in self.pseudo_filter.requires:
            second = consensus_partner(self.active_teacher)
            batch_info['second'] = self._predict_in_original_frame(
                getattr(self, second), batch_inputs, batch_data_samples)
        pseudo = self._predict_in_original_frame(getattr(self, self.active_teacher),
                                                 batch_inputs, batch_data_samples)
        for samples, inst in zip(batch_data_samples, pseudo):
            samples.gt_instances = inst
        return batch_data_samples, batch_info

    def _predict_in_original_frame(self, model, batch_inputs: Tensor,
                                   batch_data_samples: SampleList) -> list:
        model.eval()
        results = model.predict(batch_inputs, batch_data_samples, rescale=False)
        return [self._project(res.pred_instances, samples, inverse=True)
                for samples, res in zip(batch_data_samples, results)]

    @staticmethod
    def _project(inst, samples, inverse: bool = False):
        """Move ``inst.bboxes`` (in place) through the view's homography: into the view, or
        with ``inverse`` out of it into the original image frame."""
        matrix = torch.as_tensor(samples.homography_matrix, dtype=inst.bboxes.dtype,
                                 device=inst.bboxes.device)
        if inverse:
            inst.bboxes = bbox_project(inst.bboxes, matrix.inverse(), samples.ori_shape)
        else:
            inst.bboxes = bbox_project(inst.bboxes, matrix, samples.img_shape)
        return inst

    def _to_student_view(self, instances, samples):
        return self._project(copy.deepcopy(instances), samples)

    def project_pseudo_instances(self, batch_pseudo_instances: SampleList,
                                 batch_data_samples: SampleList,
                                 batch_info: Optional[dict] = None) -> SampleList:
        """Map pseudo boxes into the student's (strong) view, then apply the filter chain.

        With ``diagnose_pseudo_labels`` the student samples' own ``gt_instances`` (the
        held-out ground truth, in the student's view) are compared with the kept pseudo boxes
        and then replaced by them.
        """
        self._check_homography(batch_data_samples, 'unsup_student')
        batch_info = batch_info or {}
        projected = [self._to_student_view(p.gt_instances, s)
                     for p, s in zip(batch_pseudo_instances, batch_data_samples)]
        context = {}
        if 'second' in batch_info:
            context['second'] = [self._to_student_view(p, s)
                                 for p, s in zip(batch_info['second'], batch_data_samples)]
        kept = self.pseudo_filter(projected, context)
        device = self.data_preprocessor.device
        stats = dict(images=torch.tensor(float(len(kept)), device=device),
                     raw=torch.tensor(float(sum(len(p) for p in projected)), device=device),
                     pseudo=torch.tensor(float(sum(len(k) for k in kept)), device=device))
        if self.semi_train_cfg['diagnose_pseudo_labels']:
            counts = torch.zeros(4, device=device)
            n_with_gt = 0
            for inst, samples in zip(kept, batch_data_samples):
                gt = samples.get('gt_instances', None)
                if gt is None or 'bboxes' not in gt:
                    continue
                n_with_gt += 1
                counts += pseudo_label_matches(inst.bboxes, inst.labels,
                                               get_box_tensor(gt.bboxes).to(device),
                                               gt.labels.to(device),
                                               self.semi_train_cfg['diagnose_iou_thr'])
            stats.update(pseudo_correct=counts[1], gt=counts[2], gt_found=counts[3],
                         gt_images=torch.tensor(float(n_with_gt), device=device))
        self.pseudo_stats.add(stats)
        for inst, samples in zip(kept, batch_data_samples):
            samples.gt_instances = inst  # the held-out ground truth never reaches the loss
        return batch_data_samples

    def loss_by_pseudo_instances(self, batch_inputs: Tensor, batch_data_samples: SampleList,
                                 batch_info: Optional[dict] = None,
                                 sup_losses: Optional[dict] = None,
                                 weight: Optional[float] = None) -> dict:
        """Student loss on the images that kept at least one pseudo box, times ``weight``
        (the current :meth:`unsup_weight` when not given)."""
        counts = [len(s.gt_instances) for s in batch_data_samples]
        device = batch_inputs.device
        keep = [i for i, n in enumerate(counts) if n > 0]
        if not keep:
            if sup_losses is None:
                sup_losses = self.student.loss(batch_inputs, batch_data_samples)
            losses = self._zero_unsup_losses(sup_losses)
        else:
            if len(keep) < len(counts):
                batch_inputs = batch_inputs[keep]
                batch_data_samples = [batch_data_samples[i] for i in keep]
            raw = self.student.loss(batch_inputs, batch_data_samples)
            if weight is None:
                weight = self.unsup_weight()
            losses = rename_loss_dict('unsup_', reweight_loss_dict(raw, weight))
        losses['unsup_pseudo_per_img'] = torch.tensor(sum(counts) / max(len(counts), 1),
                                                      device=device)
        return losses

    @staticmethod
    def _check_homography(batch_data_samples: SampleList, branch: str) -> None:
        for s in batch_data_samples:
            if 'homography_matrix' not in s:
                raise ConfigKeyError(
                    f'MeanTeacherDetector: a data sample of the "{branch}" branch has no '
                    f'homography_matrix (image {s.get("img_path", "?")}); add '
                    f"'homography_matrix' to the meta_keys of that branch's PackDetInputs")
