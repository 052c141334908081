"""The student's losses of an mmdet detector from features computed once (no patched method):
the joint backbone + neck pass over the labeled and the unlabeled images, and the head losses
from given features."""
import copy
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from mmdet.models.detectors import SingleStageDetector, TwoStageDetector
from mmdet.structures import SampleList
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm


def detector_num_classes(detector) -> Optional[int]:
    """``num_classes`` of a detector's ``bbox_head`` or ``roi_head.bbox_head``, or None."""
    for head in ('bbox_head', 'roi_head'):
        head = getattr(detector, head, None)
        head = getattr(head, 'bbox_head', head)
        if getattr(head, 'num_classes', None) is not None:
            return int(head.num_classes)
    return None


def takes_features(detector) -> bool:
    """Whether :func:`loss_from_features` knows the detector's head losses (single-stage and
    two-stage detectors with an RPN)."""
    return isinstance(detector, SingleStageDetector) or (
        isinstance(detector, TwoStageDetector) and detector.with_rpn)


def loss_from_features(detector, x: tuple, samples: SampleList) -> dict:
    """The detector's losses given its backbone + neck features ``x`` of ``samples``' images:
    what ``detector.loss`` computes after its ``extract_feat``. Single-stage: the bbox head's
    loss. Two-stage: the RPN trained class-agnostic (its loss keys prefixed ``rpn_``), its
    proposals (``train_cfg.rpn_proposal``, else ``test_cfg.rpn``) into the RoI head's loss."""
    if isinstance(detector, SingleStageDetector):
        return detector.bbox_head.loss(x, samples)
    if not takes_features(detector):
        raise TypeError(f'loss_from_features: {type(detector).__name__} is neither a '
                        f'single-stage detector nor a two-stage detector with an RPN')
    rpn_samples = copy.deepcopy(samples)
    for s in rpn_samples:
        s.gt_instances.labels = torch.zeros_like(s.gt_instances.labels)
    proposal_cfg = detector.train_cfg.get('rpn_proposal', detector.test_cfg.rpn)
    rpn_losses, proposals = detector.rpn_head.loss_and_predict(x, rpn_samples,
                                                               proposal_cfg=proposal_cfg)
    losses = {(f'rpn_{k}' if 'loss' in k and 'rpn' not in k else k): v
              for k, v in rpn_losses.items()}
    losses.update(detector.roi_head.loss(x, proposals, samples))
    return losses


def detector_loss(detector, inputs: Tensor, samples: SampleList,
                  features: Optional[tuple] = None) -> dict:
    """``detector.loss(inputs, samples)``, or its losses from ``features`` (of the same images)
    when given."""
    if features is None:
        return detector.loss(inputs, samples)
    if features[0].shape[0] != inputs.shape[0]:
        raise RuntimeError(f'detector_loss: features of {features[0].shape[0]} images for a '
                           f'batch of {inputs.shape[0]}')
    return loss_from_features(detector, features, samples)


def batch_stats_free(detector) -> bool:
    """True when no BatchNorm of the detector's backbone or neck normalises with batch
    statistics (frozen / ``norm_eval`` BN): a joint pass then gives the features of two."""
    parts = [m for m in (getattr(detector, 'backbone', None), getattr(detector, 'neck', None))
             if m is not None]
    return bool(parts) and not any(isinstance(m, _BatchNorm) and m.training
                                   for part in parts for m in part.modules())


def joint_features(detector, sup_inputs: Tensor, sup_samples: SampleList,
                   unsup_inputs: Tensor, unsup_samples: SampleList) -> Tuple[tuple, tuple]:
    """``detector.extract_feat`` on both branches in one pass: each branch padded (zeros,
    bottom and right, like mmdet's batch padding) to the larger height and width, whose
    ``batch_input_shape`` both branches' samples then carry. Returns the features of the
    labeled and of the unlabeled images."""
    h = max(sup_inputs.shape[2], unsup_inputs.shape[2])
    w = max(sup_inputs.shape[3], unsup_inputs.shape[3])
    padded = []
    for x, samples in ((sup_inputs, sup_samples), (unsup_inputs, unsup_samples)):
        if x.shape[2:] != (h, w):
            x = F.pad(x, (0, w - x.shape[3], 0, h - x.shape[2]))
            for s in samples:
                s.set_metainfo(dict(batch_input_shape=(h, w)))
        padded.append(x)
    feats = detector.extract_feat(torch.cat(padded))
    n = sup_inputs.shape[0]
    return tuple(f[:n] for f in feats), tuple(f[n:] for f in feats)
