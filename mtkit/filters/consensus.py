"""Keep only the pseudo labels two teachers agree on (Dual Mean-Teacher style consensus)."""
from typing import Any, List, Tuple

import torch
from torch import Tensor

from ..registry import PSEUDO_FILTERS, register
from ..utils.device import take
from ..utils.errors import ConfigKeyError, check_choice
from .base import Context, PseudoLabelFilter

SCORE_RULES = ('mean', 'min', 'max', 'geometric')
#: Box of an agreed pseudo label: the first teacher's, or both boxes averaged with their scores
#: as weights (weighted box fusion).
BOX_RULES = ('first', 'weighted')


def box_iou(a: Tensor, b: Tensor) -> Tensor:
    """(N, M) IoU of xyxy boxes."""
    lt = torch.maximum(a[:, None, :2], b[None, :, :2])
    rb = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = (rb - lt).clamp_min(0).prod(-1)
    area_a = (a[:, 2:] - a[:, :2]).clamp_min(0).prod(-1)
    area_b = (b[:, 2:] - b[:, :2]).clamp_min(0).prod(-1)
    union = area_a[:, None] + area_b[None, :] - inter
    return inter / union.clamp_min(torch.finfo(a.dtype).eps)


def combine_scores(a: Tensor, b: Tensor, rule: str) -> Tensor:
    """Score of an agreed pseudo label from the two teachers' scores."""
    if rule == 'mean':
        return (a + b) / 2
    if rule == 'min':
        return torch.minimum(a, b)
    if rule == 'max':
        return torch.maximum(a, b)
    if rule == 'geometric':
        return (a * b).clamp_min(0).sqrt()
    check_choice('score rule', rule, SCORE_RULES)
    raise AssertionError(f'score rule {rule!r} has no formula')  # SCORE_RULES lists one too many


def consensus_boxes(boxes_a: Tensor, labels_a: Tensor, scores_a: Tensor, boxes_b: Tensor,
                    labels_b: Tensor, scores_b: Tensor, iou_thr: float,
                    rule: str = 'mean', box_rule: str = 'first', second_thr: float = 0.0
                    ) -> Tuple[Tensor, Tensor, Tensor]:
    """Match teacher A's boxes to teacher B's.

    A box of A is kept when B has a box of the same class with IoU >= ``iou_thr``; its partner
    is B's same-class box of highest IoU, and the kept box gets ``rule(score_a, score_b)``.
    B's boxes scoring below ``second_thr`` are no partners.
    With ``box_rule='weighted'`` its coordinates become ``(s_a * box_a + s_b * box_b) /
    (s_a + s_b)`` (weighted box fusion of the pair; A's box where both scores are 0).

    Returns:
        ``(keep, scores, boxes)``: (N,) bool mask over A, (N,) combined scores and (N, 4)
        boxes (A's score and box where not kept).
    """
    check_choice('box rule', box_rule, BOX_RULES)
    n = boxes_a.shape[0]
    if n == 0 or boxes_b.shape[0] == 0:
        return torch.zeros(n, dtype=torch.bool, device=boxes_a.device), scores_a, boxes_a
    iou = box_iou(boxes_a, boxes_b)
    partner = (labels_a[:, None] == labels_b[None, :]) & (scores_b >= second_thr)[None, :]
    iou = torch.where(partner, iou, iou.new_full((), -1.0))
    best_iou, best = iou.max(1)
    keep = best_iou >= iou_thr
    combined = combine_scores(scores_a, scores_b[best], rule)
    boxes = boxes_a
    if box_rule == 'weighted':
        wa, wb = scores_a.clamp_min(0)[:, None], scores_b[best].clamp_min(0)[:, None]
        total = wa + wb
        fused = (wa * boxes_a + wb * boxes_b[best]) / total.clamp_min(torch.finfo(
            boxes_a.dtype).tiny)
        boxes = torch.where(keep[:, None] & (total > 0), fused, boxes_a)
    return keep, torch.where(keep, combined, scores_a), boxes


def consensus_dense(scores_a: Tensor, labels_a: Tensor, scores_b: Tensor, labels_b: Tensor,
                    thr: float, rule: str = 'mean') -> Tuple[Tensor, Tensor]:
    """Intersection of two confidence maps: same label and both scores >= ``thr``.

    Returns:
        ``(keep, scores)`` shaped like the inputs.
    """
    keep = (labels_a == labels_b) & (scores_a >= thr) & (scores_b >= thr)
    return keep, combine_scores(scores_a, scores_b, rule)


@register(PSEUDO_FILTERS)
class ConsensusFilter(PseudoLabelFilter):
    """Keep the pseudo labels of the (primary) teacher that a second teacher agrees with.

    The model provides the second teacher's predictions, projected into the same view, as
    ``context['second']`` (a list of per-image instances; for dense maps a
    ``(scores, labels)`` pair). Boxes: same class and IoU >= ``iou_thr``; the primary
    teacher's box is kept (``box_rule='first'``) or fused with its partner, weighted by their
    scores (``'weighted'``, the consensus of PETS' static and dynamic teachers), its score
    replaced by ``score_rule`` of both scores. Dense: pixels where both teachers predict the
    same class with confidence >= ``dense_thr``.

    Args:
        iou_thr: IoU a box pair needs to count as agreement.
        score_rule: ``'mean'`` (default), ``'min'``, ``'max'`` or ``'geometric'``.
        box_rule: ``'first'`` (default) or ``'weighted'``.
        dense_thr: Per-pixel confidence both teachers need (dense maps only).
        second_thr: Score a box of the second teacher needs to count as a partner (boxes).
            The default 0 lets any of its boxes agree, at whatever score; with the same value
            as the first teacher's ``ScoreThreshold`` a box is kept only when both teachers
            keep it on their own.
    """

    requires = ('second', )

    def __init__(self, iou_thr: float = 0.5, score_rule: str = 'mean',
                 box_rule: str = 'first', dense_thr: float = 0.0,
                 second_thr: float = 0.0) -> None:
        super().__init__()
        for name, v in (('iou_thr', iou_thr), ('second_thr', second_thr)):
            if not 0.0 <= v <= 1.0:
                raise ConfigKeyError(f'ConsensusFilter.{name}: expected a value in [0, 1], got '
                                     f'{v!r}')
        check_choice('ConsensusFilter.score_rule', score_rule, SCORE_RULES)
        check_choice('ConsensusFilter.box_rule', box_rule, BOX_RULES)
        self.box_rule = box_rule
        self.iou_thr = float(iou_thr)
        self.score_rule = score_rule
        self.dense_thr = float(dense_thr)
        self.second_thr = float(second_thr)

    def filter_batch(self, batch: List[Any], context: Context = None) -> List[Any]:
        second = context['second']
        if len(second) != len(batch):
            raise ValueError(f'ConsensusFilter: {len(batch)} images from the first teacher but '
                             f'{len(second)} from the second')
        out = []
        for a, b in zip(batch, second):
            keep, scores, boxes = consensus_boxes(a.bboxes, a.labels, a.scores, b.bboxes,
                                                  b.labels, b.scores, self.iou_thr,
                                                  self.score_rule, self.box_rule,
                                                  self.second_thr)
            a = a.clone() if hasattr(a, 'clone') else a
            a.scores = scores
            if boxes is not a.bboxes:
                a.bboxes = boxes
            out.append(take(a, keep))
        return out

    def keep_dense(self, scores: Tensor, labels: Tensor, mask: Tensor,
                   context: Context = None) -> Tensor:
        if not context or 'second' not in context:
            raise ValueError("ConsensusFilter: dense use needs context['second'] = (scores, "
                             'labels) of the second teacher')
        scores_b, labels_b = context['second']
        keep, _ = consensus_dense(scores, labels, scores_b, labels_b, self.dense_thr,
                                  self.score_rule)
        return keep
