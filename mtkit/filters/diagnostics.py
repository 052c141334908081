"""Pseudo-label quality against held-out ground truth (pure torch) and a step accumulator."""
from typing import Dict, Optional, Tuple

import torch
from torch import Tensor

from ..utils.device import device_scalar
from .consensus import box_iou


def match_matrix(pred_boxes: Tensor, pred_labels: Tensor, gt_boxes: Tensor, gt_labels: Tensor,
                 iou_thr: float = 0.5) -> Tensor:
    """(N, M) bool: box ``i`` matches ground-truth box ``j`` (same class, IoU >= ``iou_thr``)."""
    device = pred_boxes.device
    iou = box_iou(pred_boxes.float(), gt_boxes.float().to(device))
    return (iou >= iou_thr) & (pred_labels[:, None] == gt_labels.to(device)[None, :])


def pseudo_label_matches(pred_boxes: Tensor, pred_labels: Tensor, gt_boxes: Tensor,
                         gt_labels: Tensor, iou_thr: float = 0.5) -> Tensor:
    """Counts for precision and recall of one image's pseudo boxes at ``iou_thr``.

    A pseudo box is correct when a ground-truth box of the same class overlaps it with IoU >=
    ``iou_thr``; a ground-truth box is found when such a pseudo box exists. (Coverage, not a
    one-to-one matching: two pseudo boxes on one object both count as correct. With the
    teachers' NMS-ed outputs duplicates are rare; the definition needs no sequential loop.)

    Returns:
        (4,) float tensor ``[n_pseudo, n_pseudo_correct, n_gt, n_gt_found]``.
    """
    n_p, n_g = pred_boxes.shape[0], gt_boxes.shape[0]
    device = pred_boxes.device
    if n_p == 0 or n_g == 0:
        return torch.stack([device_scalar(n_p, device), device_scalar(0, device),
                            device_scalar(n_g, device), device_scalar(0, device)])
    hit = match_matrix(pred_boxes, pred_labels, gt_boxes, gt_labels, iou_thr)
    return torch.stack([device_scalar(n_p, device), hit.any(1).sum().float(),
                        device_scalar(n_g, device), hit.any(0).sum().float()])


#: the statistics of box pseudo labels (:class:`PseudoLabelStats` keys)
BOX_STAT_KEYS = ('images', 'raw', 'pseudo', 'pseudo_correct', 'gt', 'gt_found', 'gt_images')
#: the statistics of pixel pseudo labels: valid pixels, kept pixels, kept pixels with a
#: held-out label and how many of those are right
PIXEL_STAT_KEYS = ('images', 'raw', 'pseudo', 'checked', 'pseudo_correct')
#: and the valid pixels where the student's prediction (on its view) is the teacher's label
#: (teacher-student coupling), for models that count them
COUPLED_PIXEL_STAT_KEYS = PIXEL_STAT_KEYS + ('agree', )
#: and, under source mixing (domain adaptation), the valid pixels of the mixed images, source
#: and target (``raw`` counts the target's): the target proportion of the student's batch
MIXED_PIXEL_STAT_KEYS = COUPLED_PIXEL_STAT_KEYS + ('mixed', )


def class_pixel_keys(num_classes: int) -> Tuple[str, ...]:
    """The per-class coupling counts of :func:`class_agreement_counts` for ``num_classes``
    classes: ``label_c{i}`` (valid pixels the teacher labels ``i``) and ``agree_c{i}`` (those
    the student also predicts ``i``)."""
    return tuple(f'label_c{i}' for i in range(num_classes)) + \
        tuple(f'agree_c{i}' for i in range(num_classes))


CLASS_COUNTS = 'class_counts'  # the block of :func:`class_agreement_counts` in PseudoLabelStats


def class_agreement_counts(plabel: Tensor, agree: Tensor, valid: Tensor,
                           num_classes: int) -> Tensor:
    """Per teacher class, the valid pixels it labels and those the student agrees on, as one
    vector on the device in the order of :func:`class_pixel_keys` (``2 * num_classes``
    counts, one :class:`PseudoLabelStats` block): a class-mean agreement that the majority
    class (background, ~90% of the pixels in street or digit scenes) does not drown."""
    spill = torch.full_like(plabel, num_classes)  # invalid pixels and ignore_index go here
    labels = torch.where(valid, plabel, spill).flatten().long()
    agreed = torch.where(agree & valid, plabel, spill).flatten().long()
    # one bincount for both: the agreed pixels are shifted past the labels' bins
    both = torch.bincount(torch.cat([labels, agreed + num_classes + 1]),
                          minlength=2 * (num_classes + 1))
    return both.view(2, num_classes + 1)[:, :num_classes].flatten()


class PseudoLabelStats:
    """Running sums of named pseudo-label counts, kept on the device (no host sync per step).

    Box pseudo labels (:data:`BOX_STAT_KEYS`): ``images``: unlabeled images seen; ``raw``:
    teacher boxes before filtering; ``pseudo``: boxes kept; ``pseudo_correct``/``gt``/
    ``gt_found``: as in :func:`pseudo_label_matches`, over the images whose ground truth
    reached the model (``gt_images``). Pixel pseudo labels: :data:`PIXEL_STAT_KEYS`.

    Args:
        keys: The scalar counts summed; :meth:`add` takes any subset (missing ones count 0).
        blocks: Counts that arrive as one vector each: ``{name: keys}``; :meth:`add` takes
            ``name`` with a tensor of ``len(keys)`` values, summed into those keys (e.g.
            ``{CLASS_COUNTS: class_pixel_keys(C)}`` for :func:`class_agreement_counts`).
    """

    def __init__(self, keys=BOX_STAT_KEYS, blocks: Optional[Dict[str, Tuple[str, ...]]] = None
                 ) -> None:
        blocks = {name: tuple(ks) for name, ks in (blocks or {}).items()}
        # (name, size) of each piece add() concatenates, in the order of self.keys
        self._layout = tuple((k, 1) for k in keys) + tuple((n, len(ks))
                                                           for n, ks in blocks.items())
        self.keys = tuple(keys) + tuple(k for ks in blocks.values() for k in ks)
        self._names = frozenset(n for n, _ in self._layout)
        if len(set(self.keys)) != len(self.keys) or set(blocks) & set(self.keys):
            raise ValueError(f'PseudoLabelStats: a count is named twice in keys={keys!r}, '
                             f'blocks={blocks!r}')
        self._sums: Optional[Tensor] = None

    def add(self, values: Dict[str, Tensor]) -> None:
        unknown = sorted(set(values) - self._names)
        if unknown:
            raise KeyError(f'PseudoLabelStats: unknown statistic(s) {unknown}; it sums '
                           f'{sorted(self._names)}')
        device = self._device(values)
        pieces = []
        for name, size in self._layout:
            v = values.get(name)
            if not isinstance(v, Tensor):
                pieces.append(torch.full((size, ), float(v or 0.0), device=device))
            elif v.numel() != size:
                raise ValueError(f'PseudoLabelStats: {name!r} takes {size} value(s), got a '
                                 f'tensor of shape {tuple(v.shape)}')
            else:
                pieces.append(v.to(device, torch.float32).reshape(size))
        vec = torch.cat(pieces)
        self._sums = vec if self._sums is None else self._sums + vec

    @staticmethod
    def _device(values: Dict[str, Tensor]):
        for v in values.values():
            if isinstance(v, Tensor):
                return v.device
        return torch.device('cpu')

    def pop(self) -> Dict[str, float]:
        """The sums since the last pop (one host read), per key (a block's keys one by one),
        then reset."""
        if self._sums is None:
            return {}
        out = dict(zip(self.keys, self._sums.tolist()))
        self._sums = None
        return out


def ratio(num: float, den: float) -> Optional[float]:
    return num / den if den > 0 else None


def pixel_scalars(sums: Dict[str, float]) -> Dict[str, float]:
    """``pseudo/kept_share`` (kept / valid pixels), ``pseudo/accuracy`` (right / checked
    kept pixels), ``pseudo/agreement`` (valid pixels where the student predicts the teacher's
    label / valid pixels) and ``pseudo/target_share`` (valid target pixels / valid pixels of
    the mixed images) of :data:`MIXED_PIXEL_STAT_KEYS` sums; with :func:`class_pixel_keys`
    counts, ``pseudo/class_agreement``: the mean over the classes the teacher labelled of the
    share of their pixels the student predicts the same. A ratio without denominator (or a
    count not given) is left out."""
    out = {}
    shares = [ratio(sums['agree_c' + k[len('label_c'):]], v) for k, v in sums.items()
              if k.startswith('label_c') and v > 0]
    if shares:
        out['pseudo/class_agreement'] = sum(shares) / len(shares)
    for key, num, den in (('kept_share', 'pseudo', 'raw'),
                          ('accuracy', 'pseudo_correct', 'checked'),
                          ('agreement', 'agree', 'raw'),
                          ('target_share', 'raw', 'mixed')):
        if num not in sums:
            continue
        value = ratio(sums.get(num, 0), sums.get(den, 0))
        if value is not None:
            out[f'pseudo/{key}'] = value
    return out


def score_matches(pred_boxes: Tensor, pred_labels: Tensor, gt_boxes: Tensor, gt_labels: Tensor,
                  pred_scores: Tensor, iou_thr: float = 0.5):
    """What one image's scored boxes find, for precision and recall at any score threshold.

    The definition of :func:`pseudo_label_matches` (coverage: a box is correct when a
    ground-truth box of its class overlaps it at IoU >= ``iou_thr``), kept for every threshold
    at once: at threshold ``t`` the kept boxes are those scoring >= ``t``; a kept box is
    correct or not whatever else is kept, and a ground-truth box is found when its best
    matching box scores >= ``t``.

    Returns:
        ``(correct, gt_best)``: (N,) bool, each box correct; (M,) float, each ground-truth box's
        highest score among the boxes that match it (``-inf`` when none does).
    """
    n_p, n_g = pred_boxes.shape[0], gt_boxes.shape[0]
    correct = torch.zeros(n_p, dtype=torch.bool, device=pred_boxes.device)
    gt_best = torch.full((n_g, ), -float('inf'), device=pred_boxes.device)
    if n_p == 0 or n_g == 0:
        return correct, gt_best
    hit = match_matrix(pred_boxes, pred_labels, gt_boxes, gt_labels, iou_thr)
    scored = torch.where(hit, pred_scores.float()[:, None],
                         torch.full(hit.shape, -float('inf'), device=hit.device))
    return hit.any(1), scored.amax(0)


def score_pr_counts(scores: Tensor, labels: Tensor, correct: Tensor, gt_best: Tensor,
                    gt_labels: Tensor, thresholds: Tensor, num_classes: int) -> Dict[str, Tensor]:
    """Per class and threshold, the counts behind precision and recall, without a loop.

    Args:
        scores, labels, correct: (N,) every box of a set of images (:func:`score_matches`).
        gt_best, gt_labels: (M,) every ground-truth box of those images.
        thresholds: (T,) score thresholds (a box is kept when its score >= the threshold).
        num_classes: C.

    Returns:
        ``kept``, ``kept_correct``, ``found``: (C, T); ``gt``: (C,).
    """
    thresholds = thresholds.to(scores.device, torch.float32)
    onehot = torch.nn.functional.one_hot(labels.long(), num_classes).float().t()  # (C, N)
    above = (scores.float()[:, None] >= thresholds[None, :]).float()  # (N, T)
    gt_onehot = torch.nn.functional.one_hot(gt_labels.long(), num_classes).float().t()  # (C, M)
    gt_above = (gt_best.float()[:, None] >= thresholds[None, :]).float()  # (M, T)
    return dict(kept=onehot @ above, kept_correct=onehot @ (above * correct.float()[:, None]),
                found=gt_onehot @ gt_above, gt=gt_onehot.sum(1))


def precision_recall(counts: Dict[str, Tensor], per_class: bool = True):
    """``(precision, recall)`` of :func:`score_pr_counts` counts: (C, T) per class, or (T,)
    over all classes; NaN where nothing is kept (precision) or there is no ground truth
    (recall)."""
    kept, right, found, gt = (counts['kept'], counts['kept_correct'], counts['found'],
                              counts['gt'][:, None].expand_as(counts['found']))
    if not per_class:
        kept, right, found, gt = kept.sum(0), right.sum(0), found.sum(0), gt.sum(0)
    nan = torch.tensor(float('nan'), device=kept.device)
    precision = torch.where(kept > 0, right / kept.clamp_min(1), nan)
    recall = torch.where(gt > 0, found / gt.clamp_min(1), nan)
    return precision, recall
