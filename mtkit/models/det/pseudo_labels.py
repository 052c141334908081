"""Box pseudo-label production of :class:`~mtkit.models.det.MeanTeacherDetector`: the teacher's
predictions in the original image frame, their projection into the student's view, the filter
chain, the oracle, and the statistics of what was kept.

Nothing here changes a data sample: the held-out ground truth of the unlabeled images stays
in their ``gt_instances`` (measured, never trained on), and the pseudo labels are returned as
:class:`PseudoLabels`, whose :meth:`PseudoLabels.student_samples` builds the student's own
samples.
"""
import copy
from dataclasses import dataclass
from typing import List, Optional, Sequence

import numpy as np
import torch
from mmdet.structures import DetDataSample, SampleList
from mmdet.structures.bbox import bbox_project, get_box_tensor
from torch import Tensor

from ...filters.diagnostics import pseudo_label_matches
from ...filters.oracle import degrade_boxes
from ...utils.device import device_scalar, host_to_device, take
from ...utils.errors import ConfigKeyError


@dataclass
class PseudoLabels:
    """The pseudo labels of one unlabeled batch, in the student's view.

    Attributes:
        kept: Per image, the boxes the student trains on (``bboxes``, ``labels``, ``scores``).
        uncertain: Per image, teacher boxes with score >= ``uncertain_thr`` (regions whose
            gradient is reweighted), or None when that policy is off.
    """
    kept: List
    uncertain: Optional[List] = None

    @property
    def counts(self) -> List[int]:
        return [len(k) for k in self.kept]

    def student_samples(self, samples: SampleList) -> SampleList:
        """New samples with the metainfo of ``samples`` (the student's view) and the pseudo
        labels as ``gt_instances``."""
        out = []
        for s, inst in zip(samples, self.kept):
            new = DetDataSample(metainfo=s.metainfo)
            new.gt_instances = inst
            out.append(new)
        return out


def flat_tensors(obj) -> list:
    if torch.is_tensor(obj):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [t for o in obj for t in flat_tensors(o)]
    return []


def as_float32(obj):
    """Low-precision floating tensors in nested lists / tuples as float32, the rest as is."""
    if torch.is_tensor(obj):
        return obj.float() if obj.is_floating_point() and obj.dtype != torch.float32 else obj
    if isinstance(obj, (list, tuple)):
        return type(obj)(as_float32(o) for o in obj)
    return obj


def prediction_heads(detector) -> list:
    """``(name, module)`` of a detector's prediction heads: ``bbox_head`` of single-stage
    detectors, ``rpn_head`` and ``roi_head.bbox_head`` of two-stage ones."""
    heads = [('bbox_head', getattr(detector, 'bbox_head', None)),
             ('rpn_head', getattr(detector, 'rpn_head', None)),
             ('roi_head.bbox_head', getattr(getattr(detector, 'roi_head', None), 'bbox_head',
                                            None))]
    return [(n, h) for n, h in heads if isinstance(h, torch.nn.Module)]


def cloned(instances):
    """``instances`` with its tensors cloned out of inference mode (the student's loss may
    save pseudo-label tensors for backward, which inference tensors refuse)."""
    return instances.new(**{k: v.clone() if torch.is_tensor(v) else v
                            for k, v in instances.items()})


def homographies(samples: SampleList, device, inverse: bool = False) -> Tensor:
    """(B, 3, 3) float32 homography matrices of a batch's views (their inverses with
    ``inverse``, computed on the host in float64), sent to ``device`` in one copy that the
    step does not wait for."""
    mats = np.stack([np.asarray(s.homography_matrix, dtype=np.float64)
                     for s in samples]) if samples else np.zeros((0, 3, 3))
    if inverse:
        mats = np.linalg.inv(mats)
    return host_to_device(mats, device)


def project_(inst, matrix: Tensor, shape: Sequence[int]):
    """Move ``inst.bboxes`` (in place) through a homography ``matrix`` (3, 3), clipped to
    ``shape``. In float32 also under AMP: autocast would run the product in bf16/fp16, whose
    8/11-bit mantissa moves a box edge at 600 px by up to 2 px / 0.3 px."""
    boxes = inst.bboxes.float()
    with torch.autocast(boxes.device.type, enabled=False):
        inst.bboxes = bbox_project(boxes, matrix.float(), shape)
    return inst


class BoxPseudoLabeler:
    """Pseudo labels of a mean-teacher detector (a plain object; the model owns the modules).

    Args:
        owner: Name used in error messages.
        cfg: The model's ``semi_train_cfg`` (read at every call, so ``update_train_cfg``
            applies).
        pseudo_filter: The model's :class:`~mtkit.filters.FilterChain`.
        stats: The model's :class:`~mtkit.filters.diagnostics.PseudoLabelStats`.
        num_classes: The detector's number of classes (for oracle false positives), or None.
    """

    def __init__(self, owner: str, cfg: dict, pseudo_filter, stats, num_classes=None) -> None:
        self.owner = owner
        self.cfg = cfg
        self.pseudo_filter = pseudo_filter
        self.stats = stats
        self.num_classes = num_classes

    def check_homography(self, samples: SampleList, branch: str) -> None:
        for s in samples:
            if 'homography_matrix' not in s:
                raise ConfigKeyError(
                    f'{self.owner}: a data sample of the "{branch}" branch has no '
                    f'homography_matrix (image {s.get("img_path", "?")}); add '
                    f"'homography_matrix' to the meta_keys of that branch's PackDetInputs")

    # ------------------------------------------------------------------ teacher
    def predict(self, teacher, name: str, inputs: Tensor, samples: SampleList,
                check_finite) -> list:
        """Teacher ``name``'s boxes on ``inputs`` (the weak view), mapped back to the original
        image frame. The teacher runs in eval mode under ``torch.inference_mode()``; its raw
        head outputs are checked for NaN / inf first (mmdet's score threshold would drop NaN
        scores silently: ``check_finite(tensors, what)`` stops) and go on in float32 (under
        AMP, box decoding and NMS need it)."""
        self.check_homography(samples, 'unsup_teacher')
        teacher.eval()

        def head_hook(where):
            def hook(module, args, output):
                check_finite(flat_tensors(output), f'the {where} outputs of {name}')
                return as_float32(output)
            return hook

        handles = [head.register_forward_hook(head_hook(where))
                   for where, head in prediction_heads(teacher)]
        try:
            with torch.inference_mode():
                results = teacher.predict(inputs, samples, rescale=False)
        finally:
            for h in handles:
                h.remove()
        back = homographies(samples, inputs.device, inverse=True)
        return [project_(cloned(res.pred_instances), m, s.ori_shape)
                for s, res, m in zip(samples, results, back)]

    def to_view(self, instances: list, samples: SampleList) -> list:
        """Copies of each image's instances (original frame), moved into that sample's view."""
        if not samples:
            return []
        mats = homographies(samples, get_box_tensor(instances[0].bboxes).device)
        return [project_(copy.deepcopy(inst), m, s.img_shape)
                for inst, s, m in zip(instances, samples, mats)]

    def project(self, instances: list, student_samples: SampleList,
                second: Optional[list] = None, it: Optional[int] = None) -> PseudoLabels:
        """The teacher's boxes (original frame; ``second``: the consensus partner's) in the
        student's view, through the filter chain; the boxes with score >= ``uncertain_thr``
        become the uncertain regions. Statistics are recorded (:meth:`record`)."""
        self.check_homography(student_samples, 'unsup_student')
        projected = self.to_view(instances, student_samples)
        context = {} if it is None else {'iter': it}
        if second is not None:
            context['second'] = self.to_view(second, student_samples)
        kept = self.pseudo_filter(projected, context)
        thr = self.cfg['uncertain_thr']
        uncertain = None if thr is None else [take(inst, inst.scores >= thr)
                                              for inst in projected]
        self.record(kept, student_samples, raw=sum(len(p) for p in projected))
        return PseudoLabels(kept, uncertain)

    # ------------------------------------------------------------------ oracle
    def oracle(self, student_samples: SampleList) -> PseudoLabels:
        """``semi_train_cfg.oracle``: the student view's held-out ground truth, degraded as
        configured, as pseudo labels (scores 1). A diagnostic upper bound."""
        cfg = self.cfg['oracle']
        kept = []
        for s in student_samples:
            gt = s.get('gt_instances', None)
            if gt is None or 'bboxes' not in gt:
                raise ConfigKeyError(
                    f'{self.owner}: semi_train_cfg.oracle needs the held-out ground truth of the '
                    f'unlabeled images, but the "unsup_student" sample of '
                    f'{s.get("img_path", "?")} has no gt_instances.bboxes; load them in the '
                    f'unlabeled pipeline (LoadAnnotations with_bbox=True) from the '
                    f'*-unlabeled.gt.json annotation file')
            if cfg['false_positives'] > 0 and self.num_classes is None:
                raise ConfigKeyError(
                    f'{self.owner}: oracle false_positives need the number of classes, but the '
                    f'detector has neither bbox_head.num_classes nor '
                    f'roi_head.bbox_head.num_classes')
            boxes, labels = degrade_boxes(
                get_box_tensor(gt.bboxes), gt.labels, s.img_shape, self.num_classes or 1,
                recall=cfg['recall'], false_positives=cfg['false_positives'],
                jitter=cfg['jitter'])
            kept.append(gt.new(bboxes=boxes, labels=labels, scores=torch.ones_like(boxes[:, 0])))
        self.record(kept, student_samples, raw=sum(len(k) for k in kept))
        return PseudoLabels(kept)

    # ------------------------------------------------------------------ statistics
    def record(self, kept: list, student_samples: SampleList, raw: int) -> None:
        """Add counts (and, with ``diagnose_pseudo_labels``, precision / recall counts against
        the held-out ground truth in the samples' ``gt_instances``) to the statistics."""
        device = get_box_tensor(kept[0].bboxes).device if kept else torch.device('cpu')
        stats = dict(images=device_scalar(len(kept), device), raw=device_scalar(raw, device),
                     pseudo=device_scalar(sum(len(k) for k in kept), device))
        if self.cfg['diagnose_pseudo_labels']:
            counts = torch.zeros(4, device=device)
            n_with_gt = 0
            for inst, s in zip(kept, student_samples):
                gt = s.get('gt_instances', None)
                if gt is None or 'bboxes' not in gt:
                    continue
                n_with_gt += 1
                counts += pseudo_label_matches(get_box_tensor(inst.bboxes), inst.labels,
                                               get_box_tensor(gt.bboxes).to(device),
                                               gt.labels.to(device), self.cfg['diagnose_iou_thr'])
            stats.update(pseudo_correct=counts[1], gt=counts[2], gt_found=counts[3],
                         gt_images=device_scalar(n_with_gt, device))
        self.stats.add(stats)
