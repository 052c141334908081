"""Mean-teacher wrapper for any mmdet 3.x detector."""
import contextlib
import copy
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmdet.models.detectors.semi_base import SemiBaseDetector
from mmdet.models.utils import unpack_gt_instances
from mmdet.structures import SampleList
from mmdet.structures.bbox import bbox_project, get_box_tensor
from mmengine.dist import get_world_size
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm

from ...filters import FilterChain
from ...filters.diagnostics import PseudoLabelStats, pseudo_label_matches
from ...filters.oracle import check_oracle, degrade_boxes
from ...losses.dense_regions import region_weights, scale_grad
from ...losses.ramps import ramp_weight
from ...registry import MODELS, register
from ...utils.device import device_scalar, host_to_device, take
from ...utils.errors import ConfigKeyError, check_cfg, check_choice, check_shorthands
from ..semi_common import (check_finite, check_finite_state_dict, consensus_partner,
                           scheduled_unsup_weight, spread_plain_state_dict, teacher_names)

BRANCHES = ('sup', 'unsup_teacher', 'unsup_student')
UNSUP_IMAGES = ('with_pseudo', 'all')
UNSUP_NORMS = ('head', 'pseudo_density')

TRAIN_DEFAULTS = dict(
    sup_weight=1.0,
    unsup_weight=1.0,
    # Filters applied in order to the teacher's predictions, in the student's view.
    pseudo_filters=None,
    # Shorthands that build the default filters when pseudo_filters is None (pseudo_thr is
    # mmdet SemiBaseDetector's cls_pseudo_thr, named as in the segmentor).
    pseudo_thr=0.5,
    min_pseudo_bbox_wh=(1e-2, 1e-2),
    burn_in_iters=0,
    ramp_iters=0,
    ramp='linear',
    freeze_teacher=True,
    # The unlabeled images' ground truth reaches the model (the unlabeled pipeline loads the
    # held-out annotations): measure pseudo-label precision/recall against it. Never trained on.
    diagnose_pseudo_labels=False,
    diagnose_iou_thr=0.5,
    # --- unsupervised loss policies (docs/detection.md, "Unsupervised loss policies") ---
    # Which unlabeled images the student's unsupervised loss sees: only those that kept a
    # pseudo box ('with_pseudo'), or the whole batch ('all': an image without pseudo boxes
    # trains its locations as background, except in uncertain regions).
    unsup_images='with_pseudo',
    # 'head': the head's own normalisation (YOLOX/RetinaNet/FCOS/RTMDet divide by the number
    # of positives, so a batch with one pseudo box weighs each background location ~15x a
    # labeled one). 'pseudo_density': times min(1, pseudo boxes per unlabeled image / ground
    # truth boxes per labeled image), i.e. normalised as if the batch were fully labeled.
    unsup_norm='head',
    # Loss keys trained on pseudo labels, as substrings (e.g. ['loss_cls', 'loss_obj'] for
    # Unbiased Teacher's classification-only unsupervised loss); None trains all. The others
    # are computed with weight 0.
    unsup_loss_terms=None,
    # Teacher boxes with score >= uncertain_thr that the filters dropped are uncertain
    # regions: the gradient reaching the student's dense-head outputs at locations inside
    # them is multiplied by uncertain_weight (0 = ignore region; 'soft' = 1 - teacher score,
    # Soft-Teacher-style). Dense (single-stage) heads only. None = off.
    uncertain_thr=None,
    uncertain_weight=0.0,
    # The student's backbone and neck run once on the labeled and the unlabeled (strong) images
    # together, and the two losses share those features (one pass of 2B images instead of two of
    # B: fewer launches, better occupancy). 'auto': when no BatchNorm of the backbone or neck
    # normalises with batch statistics (frozen / norm_eval BN, as in mmdet's R50 configs): then
    # losses and gradients are those of two passes (branches of different sizes are padded to
    # the larger, as mmdet pads any batch). True: also with BN in training mode (normalised
    # over both branches together); False: never.
    joint_student_forward='auto',
    # Diagnostic upper bound: the unlabeled images' held-out ground truth (in the student's
    # view) replaces the teacher's pseudo labels, optionally degraded:
    # dict(recall=1.0, false_positives=0.0, jitter=0.0). The teacher is not run. Needs the
    # unlabeled pipeline to load the held-out annotations (*-unlabeled.gt.json).
    oracle=None,
)
TEST_DEFAULTS = dict(predict_on='teacher')


def _heads(detector) -> list:
    """``(name, module)`` of a detector's prediction heads: ``bbox_head`` of single-stage
    detectors, ``rpn_head`` and ``roi_head.bbox_head`` of two-stage ones."""
    heads = [('bbox_head', getattr(detector, 'bbox_head', None)),
             ('rpn_head', getattr(detector, 'rpn_head', None)),
             ('roi_head.bbox_head', getattr(getattr(detector, 'roi_head', None), 'bbox_head',
                                            None))]
    return [(n, h) for n, h in heads if isinstance(h, torch.nn.Module)]


def _flat_tensors(obj) -> list:
    if torch.is_tensor(obj):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [t for o in obj for t in _flat_tensors(o)]
    return []


def _as_float32(obj):
    """Low-precision floating tensors in nested lists / tuples as float32, the rest as is."""
    if torch.is_tensor(obj):
        return obj.float() if obj.is_floating_point() and obj.dtype != torch.float32 else obj
    if isinstance(obj, (list, tuple)):
        return type(obj)(_as_float32(o) for o in obj)
    return obj


def _teacher_head_outputs(what: str):
    """A forward hook on a teacher's prediction head: stops on NaN / inf in its outputs
    (:func:`check_finite`), and hands them on in float32. Under AMP the backbone, neck and
    head run in bf16/fp16; box decoding, NMS (mmcv's kernels take no bf16) and the pseudo
    labels then work in float32."""

    def hook(module, args, output):
        check_finite(_flat_tensors(output), what)
        return _as_float32(output)

    return hook


def _cloned(instances):
    """``instances`` with its tensors cloned out of inference mode (the student's loss may
    save pseudo-label tensors for backward, which inference tensors refuse)."""
    return instances.new(**{k: v.clone() if torch.is_tensor(v) else v
                            for k, v in instances.items()})


def _homographies(batch_data_samples: SampleList, device, inverse: bool = False) -> Tensor:
    """(B, 3, 3) float32 homography matrices of a batch's views (their inverses with
    ``inverse``, computed on the host in float64), sent to ``device`` in one copy that the
    step does not wait for."""
    mats = np.stack([np.asarray(s.homography_matrix, dtype=np.float64)
                     for s in batch_data_samples]) if batch_data_samples else np.zeros((0, 3, 3))
    if inverse:
        mats = np.linalg.inv(mats)
    return host_to_device(mats, device)


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
        check_shorthands('MeanTeacherDetector.semi_train_cfg', semi_train_cfg, 'pseudo_filters',
                         ('pseudo_thr', 'min_pseudo_bbox_wh'))
        train_cfg = check_cfg('MeanTeacherDetector.semi_train_cfg', semi_train_cfg,
                              TRAIN_DEFAULTS)
        test_cfg = check_cfg('MeanTeacherDetector.semi_test_cfg', semi_test_cfg, TEST_DEFAULTS)
        ramp_weight(0, train_cfg['burn_in_iters'], train_cfg['ramp_iters'], train_cfg['ramp'])
        _check_loss_policies(train_cfg)
        if data_preprocessor is None:
            inner = detector.get('data_preprocessor')
            if inner is None:
                raise ConfigKeyError('MeanTeacherDetector: give data_preprocessor, or a detector '
                                     'config with its own data_preprocessor')
            data_preprocessor = dict(type='mmdet.MultiBranchDataPreprocessor',
                                     data_preprocessor=inner)
        super().__init__(detector=detector, semi_train_cfg=train_cfg, semi_test_cfg=test_cfg,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.pseudo_filter, num_teachers = FilterChain.for_model(
            'MeanTeacherDetector', train_cfg['pseudo_filters'],
            [dict(type='ScoreThreshold', thr=train_cfg['pseudo_thr']),
             dict(type='MinBoxSize', min_size=tuple(train_cfg['min_pseudo_bbox_wh']))],
            num_teachers)
        self.pseudo_stats = PseudoLabelStats()
        self.ema_teachers = teacher_names(num_teachers)
        for name in self.ema_teachers[1:]:
            setattr(self, name, MODELS.build(detector))
            if train_cfg['freeze_teacher']:
                self.freeze(getattr(self, name))
        #: Name of the teacher that makes the pseudo labels (set by DualTeacherHook).
        self.active_teacher = 'teacher'
        valid_predictors = ('student', ) + self.ema_teachers
        check_choice('MeanTeacherDetector.semi_test_cfg.predict_on', test_cfg['predict_on'],
                     valid_predictors)
        num_classes = self._num_classes(required=False)
        if num_classes is not None:
            self.pseudo_filter.check_num_classes(
                num_classes, 'MeanTeacherDetector.semi_train_cfg.' +
                ('pseudo_filters' if train_cfg['pseudo_filters'] is not None else
                 'pseudo_thr -> pseudo_filters'))

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs) -> None:
        """Refuse non-finite tensors; a plain detector checkpoint fills the student and every
        teacher (mmdet's base fills ``teacher`` and ``student`` only)."""
        check_finite_state_dict(state_dict, prefix, 'MeanTeacherDetector')
        spread_plain_state_dict(state_dict, prefix, ('student', ) + self.ema_teachers)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)

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
        weight = self.unsup_weight()
        # during the burn-in (weight 0) a labeled-only batch is enough (BurnInIterBasedTrainLoop
        # loads no unlabeled views then)
        missing = [b for b in BRANCHES if b not in multi_batch_inputs
                   and (b == 'sup' or weight != 0.0)]
        if missing:
            raise ConfigKeyError(
                f'MeanTeacherDetector: the training batch lacks branch(es) {missing} (has '
                f'{sorted(multi_batch_inputs)}). Labeled data must go through mmdet MultiBranch '
                f'with a "sup" branch, unlabeled data with "unsup_teacher" and "unsup_student" '
                f'(see configs/_base_/datasets/semi_digitscenes_det.py).')
        sup_samples = multi_batch_data_samples['sup']
        if weight == 0.0:  # burn-in: the teacher is not run
            losses = self.loss_by_gt_instances(multi_batch_inputs['sup'], sup_samples)
            unsup = self._zero_unsup_losses(losses)
            unsup['unsup_pseudo_per_img'] = torch.zeros((), device=self.data_preprocessor.device)
        else:
            if self.semi_train_cfg['oracle'] is not None:
                student_samples = self.oracle_pseudo_instances(
                    multi_batch_data_samples['unsup_student'])
            else:
                pseudo, batch_info = self.get_pseudo_instances(
                    multi_batch_inputs['unsup_teacher'],
                    multi_batch_data_samples['unsup_teacher'])
                student_samples = self.project_pseudo_instances(
                    pseudo, multi_batch_data_samples['unsup_student'], batch_info)
            sup_x = unsup_x = None
            keep = self.unsup_images_kept([len(s.gt_instances) for s in student_samples])
            if keep and self.joint_student_forward():  # only the images the loss will use
                unsup_inputs = multi_batch_inputs['unsup_student']
                if len(keep) < unsup_inputs.shape[0]:
                    unsup_inputs = unsup_inputs[keep]
                sup_x, unsup_x = self.joint_features(
                    multi_batch_inputs['sup'], sup_samples, unsup_inputs,
                    [student_samples[i] for i in keep])
            with given_features(self.student, sup_x):
                losses = self.loss_by_gt_instances(multi_batch_inputs['sup'], sup_samples)
            sup_density = sum(len(s.gt_instances) for s in sup_samples) / max(len(sup_samples), 1)
            unsup = self.loss_by_pseudo_instances(multi_batch_inputs['unsup_student'],
                                                  student_samples, None, losses, weight,
                                                  sup_density=sup_density, features=unsup_x)
        unsup['unsup_weight'] = device_scalar(weight, self.data_preprocessor.device)
        losses.update(unsup)
        return losses

    def unsup_images_kept(self, counts: Sequence[int]) -> list:
        """Indices of the unlabeled images the student's unsupervised loss trains on, given
        each image's number of pseudo boxes: all of them (``unsup_images='all'``) or those
        with a box (``'with_pseudo'``)."""
        if self.semi_train_cfg['unsup_images'] == 'all':
            return list(range(len(counts)))
        return [i for i, n in enumerate(counts) if n > 0]

    def joint_student_forward(self) -> bool:
        """Whether this step runs the student's backbone and neck once on both branches
        (``semi_train_cfg.joint_student_forward``; ``'auto'``: when none of their BatchNorms
        uses batch statistics, i.e. when it cannot change the features)."""
        mode = self.semi_train_cfg['joint_student_forward']
        if mode != 'auto':
            return bool(mode)
        parts = [m for m in (getattr(self.student, 'backbone', None),
                             getattr(self.student, 'neck', None)) if m is not None]
        return bool(parts) and not any(isinstance(m, _BatchNorm) and m.training
                                       for part in parts for m in part.modules())

    def joint_features(self, sup_inputs: Tensor, sup_samples: SampleList,
                       unsup_inputs: Tensor, unsup_samples: SampleList) -> Tuple[tuple, tuple]:
        """The student's ``extract_feat`` on both branches in one pass: each branch padded
        (zeros, bottom and right, like mmdet's batch padding) to the larger height and width,
        whose ``batch_input_shape`` both branches' samples then carry. Returns the features of
        the labeled and of the unlabeled images."""
        h = max(sup_inputs.shape[2], unsup_inputs.shape[2])
        w = max(sup_inputs.shape[3], unsup_inputs.shape[3])
        padded = []
        for x, samples in ((sup_inputs, sup_samples), (unsup_inputs, unsup_samples)):
            if x.shape[2:] != (h, w):
                x = F.pad(x, (0, w - x.shape[3], 0, h - x.shape[2]))
                for s in samples:
                    s.set_metainfo(dict(batch_input_shape=(h, w)))
            padded.append(x)
        feats = self.student.extract_feat(torch.cat(padded))
        n = sup_inputs.shape[0]
        return tuple(f[:n] for f in feats), tuple(f[n:] for f in feats)

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

    def get_pseudo_instances(self, batch_inputs: Tensor, batch_data_samples: SampleList
                             ) -> Tuple[SampleList, Optional[dict]]:
        """Teacher predictions (weak view), mapped back to the original image frame.

        The teacher runs under ``torch.inference_mode()`` (and under the student's autocast
        when training with AMP; its head outputs go on in float32). With a second teacher, its
        predictions (same frame) are in ``batch_info['second']``.
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
        name = next((n for n in self.ema_teachers if getattr(self, n) is model), 'teacher')
        # the raw head outputs are checked before mmdet's score threshold, which drops NaN
        # scores silently (a NaN teacher would then just stop making pseudo labels)
        handles = [head.register_forward_hook(_teacher_head_outputs(
            f'MeanTeacherDetector: the {where} outputs of {name}'))
            for where, head in _heads(model)]
        try:
            with torch.inference_mode():
                results = model.predict(batch_inputs, batch_data_samples, rescale=False)
        finally:
            for h in handles:
                h.remove()
        back = _homographies(batch_data_samples, batch_inputs.device, inverse=True)
        return [self._project(_cloned(res.pred_instances), m, samples.ori_shape)
                for samples, res, m in zip(batch_data_samples, results, back)]

    @staticmethod
    def _project(inst, matrix: Tensor, shape: Sequence[int]):
        """Move ``inst.bboxes`` (in place) through a homography ``matrix`` (3, 3), clipped
        to ``shape``. In float32 also under AMP: autocast would run the product in bf16/fp16,
        whose 8/11-bit mantissa moves a box edge at 600 px by up to 2 px / 0.3 px."""
        boxes = inst.bboxes.float()
        with torch.autocast(boxes.device.type, enabled=False):
            inst.bboxes = bbox_project(boxes, matrix.float(), shape)
        return inst

    def _to_student_view(self, batch_instances: list, batch_data_samples: SampleList) -> list:
        """Copies of each image's instances, moved into that sample's view."""
        device = self.data_preprocessor.device
        mats = _homographies(batch_data_samples, device)
        return [self._project(copy.deepcopy(inst), m, s.img_shape)
                for inst, s, m in zip(batch_instances, batch_data_samples, mats)]

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
        projected = self._to_student_view([p.gt_instances for p in batch_pseudo_instances],
                                          batch_data_samples)
        context = {}
        if 'second' in batch_info:
            context['second'] = self._to_student_view(batch_info['second'], batch_data_samples)
        kept = self.pseudo_filter(projected, context)
        thr = self.semi_train_cfg['uncertain_thr']
        if thr is not None:
            for inst, samples in zip(projected, batch_data_samples):
                samples.uncertain_instances = take(inst, inst.scores >= thr)
        return self._assign_pseudo(kept, batch_data_samples,
                                   raw=sum(len(p) for p in projected))

    def oracle_pseudo_instances(self, batch_data_samples: SampleList) -> SampleList:
        """``semi_train_cfg.oracle``: the student view's held-out ground truth, degraded as
        configured, becomes the pseudo labels (scores 1). A diagnostic upper bound."""
        cfg = self.semi_train_cfg['oracle']
        num_classes = None
        kept = []
        for samples in batch_data_samples:
            gt = samples.get('gt_instances', None)
            if gt is None or 'bboxes' not in gt:
                raise ConfigKeyError(
                    f'MeanTeacherDetector: semi_train_cfg.oracle needs the held-out ground '
                    f'truth of the unlabeled images, but the "unsup_student" sample of '
                    f'{samples.get("img_path", "?")} has no gt_instances.bboxes; load them in '
                    f'the unlabeled pipeline (LoadAnnotations with_bbox=True) from the '
                    f'*-unlabeled.gt.json annotation file')
            if cfg['false_positives'] > 0 and num_classes is None:
                num_classes = self._num_classes()
            boxes, labels = degrade_boxes(
                get_box_tensor(gt.bboxes), gt.labels, samples.img_shape, num_classes or 1,
                recall=cfg['recall'], false_positives=cfg['false_positives'],
                jitter=cfg['jitter'])
            inst = gt.new(bboxes=boxes, labels=labels, scores=torch.ones_like(boxes[:, 0]))
            kept.append(inst)
        return self._assign_pseudo(kept, batch_data_samples, raw=sum(len(k) for k in kept))

    def _num_classes(self, required: bool = True) -> Optional[int]:
        for head in ('bbox_head', 'roi_head'):
            head = getattr(self.student, head, None)
            head = getattr(head, 'bbox_head', head)
            if getattr(head, 'num_classes', None) is not None:
                return int(head.num_classes)
        if not required:
            return None
        raise ConfigKeyError('MeanTeacherDetector: oracle false_positives need the number of '
                             'classes, but the detector has neither bbox_head.num_classes nor '
                             'roi_head.bbox_head.num_classes')

    def _assign_pseudo(self, kept: list, batch_data_samples: SampleList, raw: int) -> SampleList:
        """Record pseudo-label statistics (and, with ``diagnose_pseudo_labels``, precision and
        recall against the held-out ground truth), then make ``kept`` the samples'
        ``gt_instances``: the held-out ground truth never reaches the loss."""
        device = self.data_preprocessor.device
        stats = dict(images=device_scalar(len(kept), device), raw=device_scalar(raw, device),
                     pseudo=device_scalar(sum(len(k) for k in kept), device))
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
                         gt_images=device_scalar(n_with_gt, device))
        self.pseudo_stats.add(stats)
        for inst, samples in zip(kept, batch_data_samples):
            samples.gt_instances = inst
        return batch_data_samples

    def loss_by_pseudo_instances(self, batch_inputs: Tensor, batch_data_samples: SampleList,
                                 batch_info: Optional[dict] = None,
                                 sup_losses: Optional[dict] = None,
                                 weight: Optional[float] = None,
                                 sup_density: Optional[float] = None,
                                 features: Optional[tuple] = None) -> dict:
        """Student loss on pseudo labels, times ``weight`` (the current :meth:`unsup_weight`
        when not given), under the configured policies:

        * ``unsup_images='with_pseudo'``: only the images that kept a pseudo box; a batch
          with none gives zero losses still connected to the student (under DDP the student's
          loss still runs on the batch, at weight 0, so every rank runs the same collectives).
          ``'all'``: the whole batch, always through the student.
        * ``unsup_norm='pseudo_density'``: times min(1, pseudo boxes per image /
          ``sup_density``), ``sup_density`` being ground-truth boxes per labeled image.
        * ``unsup_loss_terms``: loss keys not matched get weight 0.
        * ``uncertain_thr``: gradient weights of uncertain regions (dense heads).

        ``features``: the student's features of the kept images (:meth:`unsup_images_kept`)
        from a joint pass (:meth:`joint_features`), used instead of running its backbone and
        neck again.
        """
        cfg = self.semi_train_cfg
        counts = [len(s.gt_instances) for s in batch_data_samples]
        device = batch_inputs.device
        if weight is None:
            weight = self.unsup_weight()
        keep = self.unsup_images_kept(counts)
        if not keep and get_world_size() > 1:
            # distributed: this rank still runs the student's loss (and the head's collectives,
            # e.g. YOLOX's all-reduce of the positive count) like the ranks that have pseudo
            # boxes, at weight 0; a single process skips the wasted forward
            raw = self.student.loss(batch_inputs, batch_data_samples)
            losses = {'unsup_' + k: ([x * 0.0 for x in v] if isinstance(v, (list, tuple))
                                     else v * 0.0) if 'loss' in k else v
                      for k, v in raw.items()}
        elif not keep:
            if sup_losses is None:  # only for the loss keys
                sup_losses = self.student.loss(batch_inputs, batch_data_samples)
            losses = self._zero_unsup_losses(sup_losses)
        else:
            if len(keep) < len(counts):
                batch_inputs = batch_inputs[keep]
                batch_data_samples = [batch_data_samples[i] for i in keep]
            with given_features(self.student, features):
                if cfg['uncertain_thr'] is not None:
                    raw = self._loss_with_regions(batch_inputs, batch_data_samples)
                else:
                    raw = self.student.loss(batch_inputs, batch_data_samples)
            factor = weight
            if cfg['unsup_norm'] == 'pseudo_density':
                if sup_density is None:
                    raise ConfigKeyError("MeanTeacherDetector: unsup_norm='pseudo_density' "
                                         'needs sup_density (ground-truth boxes per labeled '
                                         'image), which loss() passes')
                density = sum(counts) / max(len(batch_data_samples), 1)
                factor = weight * (min(1.0, density / sup_density) if sup_density > 0 else 1.0)
            terms = cfg['unsup_loss_terms']
            losses = {}
            for key, value in raw.items():
                if 'loss' in key:
                    w = factor if terms is None or any(t in key for t in terms) else 0.0
                    value = ([v * w for v in value] if isinstance(value, (list, tuple))
                             else value * w)
                losses['unsup_' + key] = value
        losses['unsup_pseudo_per_img'] = device_scalar(sum(counts) / max(len(counts), 1), device)
        return losses

    def _loss_with_regions(self, batch_inputs: Tensor, batch_data_samples: SampleList) -> dict:
        """The dense head's own loss, with the gradient at each uncertain region's locations
        scaled by ``uncertain_weight`` (:func:`~mtkit.losses.dense_regions.region_weights`)."""
        head = getattr(self.student, 'bbox_head', None)
        gen = getattr(head, 'prior_generator', None)
        if head is None or gen is None or not hasattr(head, 'loss_by_feat'):
            raise ConfigKeyError(
                f'MeanTeacherDetector: semi_train_cfg.uncertain_thr needs a single-stage '
                f'detector with a dense bbox_head (YOLOX, RetinaNet, FCOS, RTMDet, ...); '
                f'{type(self.student).__name__} has none. Set uncertain_thr=None.')
        x = self.student.extract_feat(batch_inputs)
        outs = head(x)
        sizes = [tuple(f.shape[-2:]) for f in outs[0]]
        soft = self.semi_train_cfg['uncertain_weight'] == 'soft'
        regions, values, kept = [], [], []
        for s in batch_data_samples:
            unc = s.get('uncertain_instances', None)
            if unc is None:
                regions.append(torch.zeros(0, 4, device=batch_inputs.device))
                values.append(torch.zeros(0, device=batch_inputs.device))
            else:
                regions.append(get_box_tensor(unc.bboxes))
                values.append(1.0 - unc.scores if soft else torch.full_like(
                    unc.scores, float(self.semi_train_cfg['uncertain_weight'])))
            kept.append(get_box_tensor(s.gt_instances.bboxes))
        offset = float(getattr(gen, 'offset', getattr(gen, 'center_offset', 0.5)))
        maps = region_weights(regions, values, kept, sizes, gen.strides, offset,
                              device=batch_inputs.device)
        outs = tuple(
            [scale_grad(o, m) for o, m in zip(level, maps)]
            if isinstance(level, (list, tuple)) and len(level) == len(maps) and all(
                o.dim() == 4 and tuple(o.shape[-2:]) == z for o, z in zip(level, sizes))
            else level for level in outs)
        gt, ignore, metas = unpack_gt_instances(batch_data_samples)
        return head.loss_by_feat(*outs, gt, metas, ignore)

    @staticmethod
    def _check_homography(batch_data_samples: SampleList, branch: str) -> None:
        for s in batch_data_samples:
            if 'homography_matrix' not in s:
                raise ConfigKeyError(
                    f'MeanTeacherDetector: a data sample of the "{branch}" branch has no '
                    f'homography_matrix (image {s.get("img_path", "?")}); add '
                    f"'homography_matrix' to the meta_keys of that branch's PackDetInputs")


@contextlib.contextmanager
def given_features(detector, features: Optional[tuple]):
    """Within the block, ``detector.extract_feat(x)`` returns ``features`` (computed before,
    e.g. by a joint pass; checked to be ``x``'s batch) instead of running the backbone and
    neck: mmdet detectors' ``loss`` start with ``self.extract_feat``. None: no change."""
    if features is None:
        yield
        return

    def extract_feat(batch_inputs: Tensor) -> tuple:
        if features[0].shape[0] != batch_inputs.shape[0]:
            raise RuntimeError(f'given_features: features of {features[0].shape[0]} images for '
                               f'a batch of {batch_inputs.shape[0]}')
        return features

    detector.extract_feat = extract_feat  # an instance attribute shadows the method
    try:
        yield
    finally:
        del detector.extract_feat


def _check_loss_policies(cfg: dict) -> None:
    """Validate the unsupervised-loss policy keys of ``semi_train_cfg`` (and the oracle)."""
    name = 'MeanTeacherDetector.semi_train_cfg'
    check_choice(f'{name}.joint_student_forward', cfg['joint_student_forward'],
                 ('auto', True, False))
    check_choice(f'{name}.unsup_images', cfg['unsup_images'], UNSUP_IMAGES)
    check_choice(f'{name}.unsup_norm', cfg['unsup_norm'], UNSUP_NORMS)
    terms = cfg['unsup_loss_terms']
    if terms is not None and (isinstance(terms, str) or not terms
                              or not all(isinstance(t, str) and t for t in terms)):
        raise ValueError(f"{name}.unsup_loss_terms must be None or a non-empty list of loss-key "
                         f"substrings such as ['loss_cls', 'loss_obj'], got {terms!r}")
    thr = cfg['uncertain_thr']
    if thr is not None and not 0.0 <= float(thr) <= 1.0:
        raise ValueError(f'{name}.uncertain_thr must be None or lie in [0, 1], got {thr!r}')
    w = cfg['uncertain_weight']
    if w != 'soft' and not (isinstance(w, (int, float)) and 0.0 <= float(w) <= 1.0):
        raise ValueError(f"{name}.uncertain_weight must be a float in [0, 1] or 'soft', got "
                         f'{w!r}')
    if cfg['oracle'] is not None:
        cfg['oracle'] = check_oracle(cfg['oracle'])
