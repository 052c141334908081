"""Grounded Teacher's relational context module, semantic-aware classification loss and the
soft labels of mixed objects, wired into any mmdet dense head whose ``loss_cls`` is called per
prior (pure math in :mod:`mtkit.losses.semantic_aware`)."""
from contextlib import contextmanager
from typing import Callable, Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.dist import all_reduce, get_world_size
from torch import Tensor, nn

from ...losses.semantic_aware import (WEIGHT_VARIANTS, confusion_counts, confusion_rows,
                                      semantic_aware_weights, update_relation_)
from ...utils.errors import ConfigKeyError, check_cfg, check_choice

RCM_DEFAULTS = dict(alpha=0.99, reweight=True, reg=1.0, variant='pair')


def check_relational_context(name: str, cfg: Optional[dict]) -> Optional[dict]:
    """``semi_train_cfg.relational_context``: None, or a dict of :data:`RCM_DEFAULTS` keys
    (returned with the defaults filled in)."""
    if cfg is None:
        return None
    if not isinstance(cfg, dict):
        raise ConfigKeyError(f'{name}: expected None or a dict of {sorted(RCM_DEFAULTS)}, got '
                             f'{cfg!r}')
    out = check_cfg(name, cfg, RCM_DEFAULTS)
    if not 0.0 <= out['alpha'] < 1.0:
        raise ConfigKeyError(f'{name}.alpha: the EMA weight of the old value must lie in '
                             f'[0, 1), got {out["alpha"]!r}')
    if out['reg'] < 0:
        raise ConfigKeyError(f'{name}.reg must be >= 0, got {out["reg"]!r}')
    check_choice(f'{name}.variant', out['variant'], WEIGHT_VARIANTS)
    return out


class RelationalContext(nn.Module):
    """The (K, K) class-relation matrix (buffers ``matrix`` and ``observed``, so it is in every
    checkpoint and resumes with the model) and the semantic-aware weights it gives.

    During a step, :meth:`weights` answers with the matrix as it was at the step's start and
    queues the step's (label, prediction) counts; :meth:`commit` (called once per training
    step on every rank) sums the queued counts over ranks and takes the EMA step, so that all
    ranks hold the same matrix.
    """

    def __init__(self, num_classes: int, alpha: float = 0.99, reweight: bool = True,
                 reg: float = 1.0, variant: str = 'pair') -> None:
        super().__init__()
        self.num_classes, self.alpha = int(num_classes), float(alpha)
        self.reweight, self.reg, self.variant = bool(reweight), float(reg), variant
        self.register_buffer('matrix', torch.zeros(num_classes, num_classes))
        self.register_buffer('observed', torch.zeros(num_classes, dtype=torch.bool))
        self._pending: Optional[Tensor] = None

    def weights(self, labels: Tensor, preds: Tensor,
                mixed: Optional[Tensor] = None) -> Optional[Tensor]:
        """Queue the pairs; their loss weights (None without ``reweight``; mixed objects 1)."""
        counts = confusion_counts(labels, preds, self.num_classes).to(self.matrix.device)
        self._pending = counts if self._pending is None else self._pending + counts
        if not self.reweight:
            return None
        return semantic_aware_weights(self.matrix, self.observed, labels, preds, self.reg,
                                      self.variant, mixed=mixed)

    @torch.no_grad()
    def commit(self) -> None:
        """The step's EMA update from every rank's queued pairs (a collective under DDP: call
        it on every rank, whatever its data)."""
        counts = self._pending if self._pending is not None else torch.zeros_like(self.matrix)
        self._pending = None
        if get_world_size() > 1:
            all_reduce(counts, op='sum')
        rows, observed = confusion_rows(counts)
        update_relation_(self.matrix, rows, observed, self.alpha)
        self.observed |= observed

    def diagonal_mean(self) -> Tensor:
        """Mean of the diagonal over the observed rows (0 before any)."""
        n = self.observed.sum()
        return torch.where(n > 0, (self.matrix.diagonal() * self.observed).sum()
                           / n.clamp_min(1), self.matrix.new_zeros(()))


class RecordingSampler:
    """A dense head's sampler that, while recording, keeps each image's
    ``(pos_assigned_gt_inds, gt_instances)``: which object every positive location of the
    image was assigned to, in the order the head stacks its classification targets."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.recording = False
        self.records: list = []

    def sample(self, assign_result, pred_instances, gt_instances, *args, **kwargs):
        result = self.inner.sample(assign_result, pred_instances, gt_instances, *args, **kwargs)
        if self.recording:
            self.records.append((result.pos_assigned_gt_inds, gt_instances))
        return result

    def take(self) -> list:
        out, self.records = self.records, []
        return out

    def __getattr__(self, name):
        return getattr(self.inner, name)


def soft_label_rows(gt, num_classes: int) -> Tuple[Tensor, Tensor]:
    """``(rows, mixed)`` of one image's objects: one-hot rows of their labels, and for mixed
    objects (``mix_weights`` > 0, with ``base_labels``) ``w * onehot(label) + (1 - w) *
    onehot(base_label)``; ``mixed`` marks them."""
    labels = gt.labels.long()
    rows = F.one_hot(labels, num_classes).float()
    if 'mix_weights' not in gt:
        return rows, torch.zeros_like(labels, dtype=torch.bool)
    w = gt.mix_weights.to(rows)
    mixed = w > 0
    base = F.one_hot(gt.base_labels.long(), num_classes).float()
    soft = w[:, None] * rows + (1.0 - w[:, None]) * base
    return torch.where(mixed[:, None], soft, rows), mixed


class SemanticAwareClsLoss(nn.Module):
    """A dense head's ``loss_cls`` that, while a context is attached (:func:`attached`),
    trains mixed objects on their soft labels and weighs each location by the relational
    context; passed through otherwise.

    With the head's sampler recording (:class:`RecordingSampler`, YOLOX), every positive
    location's object is known: its label, and, for an object of semantic augmentation, its
    soft label, which replaces the location's target row (``soft * IoU`` instead of
    ``one_hot * IoU``). Without it (heads whose targets are label indices: RetinaNet, FCOS),
    each location's class is read from the target (``K`` = background) and the labels stay
    hard. The predicted class comes from the logits (no gradient through the weights). The
    wrapped loss is held outside the module tree, so the head's state dict does not change; it
    must have no parameters or buffers.
    """

    def __init__(self, inner: nn.Module, sampler: Optional[RecordingSampler] = None) -> None:
        super().__init__()
        if any(True for _ in inner.parameters()) or any(True for _ in inner.buffers()):
            raise ConfigKeyError(f'semantic-aware loss: the head\'s loss_cls '
                                 f'{type(inner).__name__} has parameters or buffers; it can '
                                 f'only wrap a stateless loss')
        object.__setattr__(self, 'inner', inner)
        object.__setattr__(self, 'sampler', sampler)
        object.__setattr__(self, 'context', None)

    def forward(self, pred: Tensor, target: Tensor, weight: Optional[Tensor] = None,
                **kwargs) -> Tensor:
        ctx: Optional[Callable] = self.context
        records = self.sampler.take() if self.sampler is not None else []
        if ctx is None:
            return self.inner(pred, target, weight=weight, **kwargs)
        k = pred.shape[-1]
        mixed = None
        if records and target.dim() == pred.dim():
            n = sum(len(inds) for inds, _ in records)
            if n != target.shape[0]:
                raise RuntimeError(f'semantic-aware loss: {target.shape[0]} classification '
                                   f'targets but {n} positive locations recorded by the '
                                   f'sampler; this head stacks its targets otherwise')
            rows, flags, labels = [], [], []
            for inds, gt in records:
                soft, is_mixed = soft_label_rows(gt, k)
                rows.append(soft[inds])
                flags.append(is_mixed[inds])
                labels.append(gt.labels.long()[inds])
            soft = torch.cat(rows).to(target)
            target = soft * target.sum(-1, keepdim=True)  # soft label times the IoU
            mixed, labels = torch.cat(flags).to(target.device), torch.cat(labels).to(
                target.device)
        elif target.dim() == pred.dim():  # soft one-hot rows; all-zero = background
            labels = torch.where(target.sum(-1) > 0, target.argmax(-1),
                                 torch.full_like(target[..., 0], k, dtype=torch.long))
        else:
            labels = target.long()
        w = ctx(labels, pred.detach().argmax(-1), mixed)
        if w is not None:
            w = w.to(pred.dtype)
            if target.dim() == pred.dim():
                w = w[:, None]
            weight = w if weight is None else weight * (w if weight.dim() == w.dim()
                                                        else w.reshape(weight.shape))
        return self.inner(pred, target, weight=weight, **kwargs)


def install_semantic_loss(detector, owner: str) -> SemanticAwareClsLoss:
    """Wrap ``detector.bbox_head.loss_cls`` (a dense head) in :class:`SemanticAwareClsLoss`,
    and its sampler, when it has one, in :class:`RecordingSampler`; returns the wrapper."""
    head = getattr(detector, 'bbox_head', None)
    loss = getattr(head, 'loss_cls', None)
    if not isinstance(loss, nn.Module) or not hasattr(head, 'prior_generator'):
        raise ConfigKeyError(
            f'{owner}: semi_train_cfg.relational_context needs a single-stage detector with a '
            f'dense bbox_head and its loss_cls (YOLOX, RetinaNet, FCOS, ...); '
            f'{type(detector).__name__} has none')
    if not isinstance(loss, SemanticAwareClsLoss):
        sampler = getattr(head, 'sampler', None)
        if sampler is not None and not isinstance(sampler, RecordingSampler):
            sampler = head.sampler = RecordingSampler(sampler)
        head.loss_cls = SemanticAwareClsLoss(loss, sampler)
    return head.loss_cls


def no_weights(labels: Tensor, preds: Tensor, mixed: Optional[Tensor] = None) -> None:
    """A context without relational weights (soft labels only)."""
    return None


@contextmanager
def attached(wrapper: SemanticAwareClsLoss, context: Callable = no_weights):
    """Within the block, ``wrapper`` trains on soft labels and weighs its calls with
    ``context(labels, preds, mixed)`` (weights or None)."""
    object.__setattr__(wrapper, 'context', context)
    if wrapper.sampler is not None:
        wrapper.sampler.records, wrapper.sampler.recording = [], True
    try:
        yield
    finally:
        object.__setattr__(wrapper, 'context', None)
        if wrapper.sampler is not None:
            wrapper.sampler.records, wrapper.sampler.recording = [], False
