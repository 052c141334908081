"""The unsupervised-loss policies of :class:`~mtkit.models.det.MeanTeacherDetector` (docs/
detection.md, "Unsupervised loss policies"): which unlabeled images the student trains on,
how their loss is normalised, which loss terms count, and the gradient weight of uncertain
regions of dense heads."""
from typing import Callable, Optional, Sequence

import torch
from mmdet.models.utils import unpack_gt_instances
from mmdet.structures import SampleList
from mmdet.structures.bbox import get_box_tensor
from mmengine.dist import get_world_size
from torch import Tensor

from ...filters.oracle import check_oracle
from ...losses.dense_regions import region_weights, scale_grad
from ...utils.device import device_scalar
from ...utils.errors import ConfigKeyError, check_choice
from .student_pass import detector_loss

UNSUP_IMAGES = ('with_pseudo', 'all')
UNSUP_NORMS = ('head', 'pseudo_density')


def check_policies(name: str, cfg: dict) -> None:
    """Validate the policy keys of ``semi_train_cfg`` (and normalise the oracle's)."""
    check_choice(f'{name}.joint_student_forward', cfg['joint_student_forward'],
                 ('auto', True, False))
    check_choice(f'{name}.unsup_images', cfg['unsup_images'], UNSUP_IMAGES)
    check_choice(f'{name}.unsup_norm', cfg['unsup_norm'], UNSUP_NORMS)
    terms = cfg['unsup_loss_terms']
    if terms is not None and (isinstance(terms, str) or not terms
                              or not all(isinstance(t, str) and t for t in terms)):
        raise ConfigKeyError(f"{name}.unsup_loss_terms must be None or a non-empty list of "
                             f"loss-key substrings such as ['loss_cls', 'loss_obj'], got "
                             f"{terms!r}")
    thr = cfg['uncertain_thr']
    if thr is not None and not 0.0 <= float(thr) <= 1.0:
        raise ConfigKeyError(f'{name}.uncertain_thr must be None or lie in [0, 1], got {thr!r}')
    w = cfg['uncertain_weight']
    if w != 'soft' and not (isinstance(w, (int, float)) and 0.0 <= float(w) <= 1.0):
        raise ConfigKeyError(f"{name}.uncertain_weight must be a float in [0, 1] or 'soft', "
                             f'got {w!r}')
    if cfg['oracle'] is not None:
        cfg['oracle'] = check_oracle(cfg['oracle'])


def weighted(losses: dict, factor: float, terms: Optional[Sequence[str]]) -> dict:
    """``unsup_`` + each key; loss terms times ``factor``, or 0 when ``terms`` is given and
    none of its substrings is in the key (still in the graph)."""
    out = {}
    for key, value in losses.items():
        if 'loss' in key:
            w = factor if terms is None or any(t in key for t in terms) else 0.0
            value = [v * w for v in value] if isinstance(value, (list, tuple)) else value * w
        out['unsup_' + key] = value
    return out


def zero_unsup_losses(loss_keys, zero: Tensor) -> dict:
    """``unsup_*`` zeros under the loss keys of a supervised loss dict (``sup_`` stripped)."""
    out = {}
    for key, value in loss_keys.items():
        if 'loss' not in key:
            continue
        key = 'unsup_' + key[len('sup_'):] if key.startswith('sup_') else 'unsup_' + key
        out[key] = [zero] * len(value) if isinstance(value, (list, tuple)) else zero
    return out


class DenseUnsupLoss:
    """The student's unsupervised loss under the configured policies (a plain object).

    * ``unsup_images='with_pseudo'``: only the images that kept a pseudo box (the caller
      decides once with :meth:`images_kept`); a batch with none gives zero losses still
      connected to the student (under DDP the student's loss still runs on the batch, at weight
      0, so every rank runs the same collectives). ``'all'``: the whole batch.
    * ``unsup_norm='pseudo_density'``: times min(1, pseudo boxes per image / ``sup_density``),
      ``sup_density`` being ground-truth boxes per labeled image.
    * ``unsup_loss_terms``: loss keys not matched get weight 0.
    * ``uncertain_thr``: gradient weights of uncertain regions (dense heads).

    Args:
        owner: Name used in error messages.
        cfg: The model's ``semi_train_cfg`` (read at every call).
    """

    def __init__(self, owner: str, cfg: dict) -> None:
        self.owner = owner
        self.cfg = cfg

    def images_kept(self, counts: Sequence[int]) -> list:
        """Indices of the unlabeled images the student trains on, given each image's number
        of pseudo boxes."""
        if self.cfg['unsup_images'] == 'all':
            return list(range(len(counts)))
        return [i for i, n in enumerate(counts) if n > 0]

    def __call__(self, student, inputs: Tensor, samples: SampleList, keep: list,
                 weight: float, zero_loss: Callable[[], Tensor],
                 uncertain: Optional[list] = None, sup_density: Optional[float] = None,
                 features: Optional[tuple] = None, zero_like: Optional[dict] = None) -> dict:
        """Losses ``unsup_*`` of ``student`` on ``samples`` (the student's view, pseudo labels
        as ``gt_instances``) restricted to the images ``keep``; ``features``: the student's
        features of exactly those images (a joint pass). On a single process a batch without
        kept image gives ``zero_loss()`` (the model's zero connected to the student, called
        only then) under the loss keys of ``zero_like`` (a loss dict, e.g. the supervised one;
        computed when not given). Also ``unsup_pseudo_per_img``."""
        cfg = self.cfg
        counts = [len(s.gt_instances) for s in samples]
        if not keep and get_world_size() > 1:
            # distributed: this rank still runs the student's loss (and the head's collectives,
            # e.g. YOLOX's all-reduce of the positive count) like the ranks that have pseudo
            # boxes, at weight 0; a single process skips the wasted forward
            losses = weighted(student.loss(inputs, samples), 0.0, None)
        elif not keep:
            if zero_like is None:  # only for the loss keys
                zero_like = student.loss(inputs, samples)
            losses = zero_unsup_losses(zero_like, zero_loss())
        else:
            if len(keep) < len(counts):
                inputs = inputs[keep]
                samples = [samples[i] for i in keep]
                uncertain = None if uncertain is None else [uncertain[i] for i in keep]
            if cfg['uncertain_thr'] is not None:
                raw = self.loss_with_regions(student, inputs, samples, uncertain, features)
            else:
                raw = detector_loss(student, inputs, samples, features)
            factor = weight
            if cfg['unsup_norm'] == 'pseudo_density':
                if sup_density is None:
                    raise ConfigKeyError(f"{self.owner}: unsup_norm='pseudo_density' needs "
                                         f'sup_density (ground-truth boxes per labeled image)')
                density = sum(counts) / max(len(samples), 1)
                factor = weight * (min(1.0, density / sup_density) if sup_density > 0 else 1.0)
            losses = weighted(raw, factor, cfg['unsup_loss_terms'])
        losses['unsup_pseudo_per_img'] = device_scalar(sum(counts) / max(len(counts), 1),
                                                       inputs.device)
        return losses

    def loss_with_regions(self, student, inputs: Tensor, samples: SampleList,
                          uncertain: Optional[list], features: Optional[tuple]) -> dict:
        """The dense head's own loss, with the gradient at each uncertain region's locations
        scaled by ``uncertain_weight`` (:func:`~mtkit.losses.dense_regions.region_weights`)."""
        head = getattr(student, 'bbox_head', None)
        gen = getattr(head, 'prior_generator', None)
        if head is None or gen is None or not hasattr(head, 'loss_by_feat'):
            raise ConfigKeyError(
                f'{self.owner}: semi_train_cfg.uncertain_thr needs a single-stage detector with '
                f'a dense bbox_head (YOLOX, RetinaNet, FCOS, RTMDet, ...); '
                f'{type(student).__name__} has none. Set uncertain_thr=None.')
        x = student.extract_feat(inputs) if features is None else features
        outs = head(x)
        sizes = [tuple(f.shape[-2:]) for f in outs[0]]
        soft = self.cfg['uncertain_weight'] == 'soft'
        regions, values, kept = [], [], []
        for i, s in enumerate(samples):
            unc = None if uncertain is None else uncertain[i]
            if unc is None:
                regions.append(torch.zeros(0, 4, device=inputs.device))
                values.append(torch.zeros(0, device=inputs.device))
            else:
                regions.append(get_box_tensor(unc.bboxes))
                values.append(1.0 - unc.scores if soft else torch.full_like(
                    unc.scores, float(self.cfg['uncertain_weight'])))
            kept.append(get_box_tensor(s.gt_instances.bboxes))
        offset = float(getattr(gen, 'offset', getattr(gen, 'center_offset', 0.5)))
        maps = region_weights(regions, values, kept, sizes, gen.strides, offset,
                              device=inputs.device)
        outs = tuple(
            [scale_grad(o, m) for o, m in zip(level, maps)]
            if isinstance(level, (list, tuple)) and len(level) == len(maps) and all(
                o.dim() == 4 and tuple(o.shape[-2:]) == z for o, z in zip(level, sizes))
            else level for level in outs)
        gt, ignore, metas = unpack_gt_instances(samples)
        return head.loss_by_feat(*outs, gt, metas, ignore)
