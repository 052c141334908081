"""Grounded Teacher's relational context module and semantic-aware classification loss, wired
into any mmdet dense head whose ``loss_cls`` is called per prior (pure math in
:mod:`mtkit.losses.semantic_aware`)."""
from contextlib import contextmanager
from typing import Callable, Optional

import torch
from mmengine.dist import all_reduce, get_world_size
from torch import Tensor, nn

from ...losses.semantic_aware import (WEIGHT_VARIANTS, confusion_counts, confusion_rows,
                                      semantic_aware_weights, update_relation_)
from ...utils.errors import ConfigKeyError, check_choice

RCM_DEFAULTS = dict(alpha=0.99, reweight=True, reg=1.0, variant='pair')


def check_relational_context(name: str, cfg: Optional[dict]) -> Optional[dict]:
    """``semi_train_cfg.relational_context``: None, or a dict of :data:`RCM_DEFAULTS` keys
    (returned with the defaults filled in)."""
    if cfg is None:
        return None
    if not isinstance(cfg, dict):
        raise ConfigKeyError(f'{name}: expected None or a dict of {sorted(RCM_DEFAULTS)}, got '
                             f'{cfg!r}')
    unknown = set(cfg) - set(RCM_DEFAULTS)
    if unknown:
        raise ConfigKeyError(f'{name}: unknown key(s) {sorted(unknown)}; known: '
                             f'{sorted(RCM_DEFAULTS)}')
    out = dict(RCM_DEFAULTS, **cfg)
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

    def weights(self, labels: Tensor, preds: Tensor) -> Optional[Tensor]:
        """Queue the pairs; their loss weights (None without ``reweight``)."""
        counts = confusion_counts(labels, preds, self.num_classes).to(self.matrix.device)
        self._pending = counts if self._pending is None else self._pending + counts
        if not self.reweight:
            return None
        return semantic_aware_weights(self.matrix, self.observed, labels, preds, self.reg,
                                      self.variant)

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


class SemanticAwareClsLoss(nn.Module):
    """A dense head's ``loss_cls``, reweighted per prior by the relational context while one is
    attached (:func:`attached`), and passed through otherwise.

    It reads each prior's class from the loss target (an (N, K) soft one-hot row, as YOLOX
    builds them, background rows all zero; or (N,) labels with ``K`` for the background, as
    RetinaNet / FCOS pass them) and the predicted class from the logits (no gradient through
    the weights). The wrapped loss is held outside the module tree, so the head's state dict
    does not change; it must have no parameters or buffers.
    """

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        if any(True for _ in inner.parameters()) or any(True for _ in inner.buffers()):
            raise ConfigKeyError(f'semantic-aware loss: the head\'s loss_cls '
                                 f'{type(inner).__name__} has parameters or buffers; it can '
                                 f'only wrap a stateless loss')
        object.__setattr__(self, 'inner', inner)
        object.__setattr__(self, 'context', None)

    def forward(self, pred: Tensor, target: Tensor, weight: Optional[Tensor] = None,
                **kwargs) -> Tensor:
        ctx: Optional[Callable] = self.context
        if ctx is None:
            return self.inner(pred, target, weight=weight, **kwargs)
        k = pred.shape[-1]
        if target.dim() == pred.dim():  # soft one-hot rows; all-zero = background
            labels = torch.where(target.sum(-1) > 0, target.argmax(-1),
                                 torch.full_like(target[..., 0], k, dtype=torch.long))
        else:
            labels = target.long()
        w = ctx(labels, pred.detach().argmax(-1))
        if w is not None:
            w = w.to(pred.dtype)
            if target.dim() == pred.dim():
                w = w[:, None]
            weight = w if weight is None else weight * (w if weight.dim() == w.dim()
                                                        else w.reshape(weight.shape))
        return self.inner(pred, target, weight=weight, **kwargs)


def install_semantic_loss(detector, owner: str) -> SemanticAwareClsLoss:
    """Wrap ``detector.bbox_head.loss_cls`` (a dense head) in :class:`SemanticAwareClsLoss`;
    returns the wrapper."""
    head = getattr(detector, 'bbox_head', None)
    loss = getattr(head, 'loss_cls', None)
    if not isinstance(loss, nn.Module) or not hasattr(head, 'prior_generator'):
        raise ConfigKeyError(
            f'{owner}: semi_train_cfg.relational_context needs a single-stage detector with a '
            f'dense bbox_head and its loss_cls (YOLOX, RetinaNet, FCOS, ...); '
            f'{type(detector).__name__} has none')
    if not isinstance(loss, SemanticAwareClsLoss):
        head.loss_cls = SemanticAwareClsLoss(loss)
    return head.loss_cls


@contextmanager
def attached(wrapper: SemanticAwareClsLoss, context: Callable):
    """Within the block, ``wrapper`` weighs its calls with ``context(labels, preds)``."""
    object.__setattr__(wrapper, 'context', context)
    try:
        yield
    finally:
        object.__setattr__(wrapper, 'context', None)
