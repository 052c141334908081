"""Per-class adaptive score thresholds from a Gaussian mixture (Consistent-Teacher)."""
from typing import Any, List, Optional, Tuple

import torch
from mmengine.dist import all_gather, get_world_size
from torch import Tensor

from ..registry import PSEUDO_FILTERS, register
from ..utils.device import take
from ..utils.errors import ConfigKeyError, check_choice
from .base import Context, PseudoLabelFilter
from .gmm import gmm_thresholds, push_scores
from .score_threshold import score_threshold_mask

NONFINITE_POLICIES = ('error', 'skip')


def gather_across_ranks(*tensors: Tensor) -> Tuple[Tensor, ...]:
    """Concatenate 1-D tensors of the same length over all ranks (rank order), whatever each
    rank's length: the lengths are all-gathered (one host read), every rank pads to the
    longest, and the padding is cut off again. Without a process group: the inputs."""
    if get_world_size() < 2:
        return tensors
    n = torch.tensor([tensors[0].numel()], device=tensors[0].device)
    sizes = [int(x) for x in torch.cat(all_gather(n)).tolist()]
    longest = max(sizes)
    out = []
    for t in tensors:
        flag = t.dtype == torch.bool  # (gloo gathers no bool)
        padded = t.new_zeros(longest, dtype=torch.uint8 if flag else t.dtype)
        padded[:t.numel()] = t
        joined = torch.cat([g[:k] for g, k in zip(all_gather(padded), sizes)])
        out.append(joined.bool() if flag else joined)
    return tuple(out)


@register(PSEUDO_FILTERS)
class GMMThreshold(PseudoLabelFilter):
    """Consistent-Teacher's per-class GMM threshold, fitted for all classes at once.

    Every call pushes the batch's teacher scores into a per-class FIFO queue of the last
    ``queue_size`` scores, fits a 2-component Gaussian mixture to each class's queued scores
    (:func:`~mtkit.filters.gmm.gmm_thresholds`; batched EM, no loop over classes) and keeps the
    pseudo labels scoring at least their class's threshold -- the new scores included, as in
    the paper. The queue and the current thresholds are buffers, so they are saved in
    checkpoints and restored exactly on resume.

    Args:
        num_classes: Number of classes C.
        queue_size: Scores kept per class (Q; the paper's 100).
        policy: ``'high'`` (paper default) or ``'middle'``.
        fallback: Threshold of a class with fewer than 4 queued scores or no positive mode
            (also the initial threshold of every class).
        min_thr: Lower clamp of every fitted threshold (0 = no clamp).
        max_iter, tol: EM limits (sklearn's defaults).
        nonfinite: NaN/inf teacher scores (a diverging teacher): ``'error'`` raises with the
            iteration and classes (costs one host sync per step); ``'skip'`` drops them from
            queue and pseudo labels and counts them per class in ``nonfinite_count``
            (:class:`~mtkit.hooks.PseudoLabelDiagnosticsHook` logs a warning when it grows).
        dense_samples: For dense maps, at most this many randomly chosen pixels per class and
            step enter the queue (otherwise one image's pixels would flush it).
        gather: Under DDP, push every rank's scores into every rank's queues (all ranks then
            fit the same thresholds; costs two all-gathers and one host read per step). The
            default, ``False``, keeps a queue per rank, as the reference code does.
    """

    def __init__(self, num_classes: int, queue_size: int = 100, policy: str = 'high',
                 fallback: float = 0.5, min_thr: float = 0.0, max_iter: int = 100,
                 tol: float = 1e-3, nonfinite: str = 'error', dense_samples: int = 100,
                 gather: bool = False) -> None:
        super().__init__()
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ConfigKeyError(f'GMMThreshold.num_classes: expected an int >= 1, got '
                                 f'{num_classes!r}')
        if not isinstance(queue_size, int) or queue_size < 4:
            raise ConfigKeyError(f'GMMThreshold.queue_size: expected an int >= 4, got '
                                 f'{queue_size!r}')
        if policy not in ('high', 'middle'):
            raise ConfigKeyError(f"GMMThreshold.policy: expected 'high' or 'middle', got "
                                 f'{policy!r}')
        for name, v in (('fallback', fallback), ('min_thr', min_thr)):
            if not 0.0 <= float(v) <= 1.0:
                raise ConfigKeyError(f'GMMThreshold.{name}: expected a value in [0, 1], got {v!r}')
        check_choice('GMMThreshold.nonfinite', nonfinite, NONFINITE_POLICIES)
        self.num_classes = num_classes
        self.queue_size = queue_size
        self.policy = policy
        self.fallback = float(fallback)
        self.min_thr = float(min_thr)
        self.max_iter = max_iter
        self.tol = tol
        self.nonfinite = nonfinite
        self.dense_samples = dense_samples
        self.gather = bool(gather)
        self.register_buffer('queue', torch.zeros(num_classes, queue_size))
        self.register_buffer('current', torch.full((num_classes, ), self.fallback))
        self.register_buffer('nonfinite_count', torch.zeros(num_classes, dtype=torch.long))

    # ------------------------------------------------------------------ core steps
    def _check(self, scores: Tensor, labels: Tensor, context: Context = None) -> Tensor:
        """Finite mask; raises on bad labels, and on non-finite scores in ``'error'`` mode
        (naming the model's iteration, ``context['iter']``); counts the non-finite scores per
        class (``'skip'`` mode keeps going)."""
        it = (context or {}).get('iter', '?')
        finite = torch.isfinite(scores)
        on_cpu = scores.device.type == 'cpu'
        if on_cpu or self.nonfinite == 'error':  # one host read per step at most
            bad_label = (labels < 0) | (labels >= self.num_classes)
            flags = torch.stack((bad_label.any(), (~finite).any())).tolist()
            if flags[0]:
                found = sorted(set(labels[bad_label].tolist()))
                raise ConfigKeyError(f'GMMThreshold: num_classes={self.num_classes}, but the '
                                     f'teacher predicted label(s) {found} at iteration {it}')
            if flags[1] and self.nonfinite == 'error':
                classes = sorted(set(labels[~finite].tolist()))
                raise FloatingPointError(
                    f'GMMThreshold: {int((~finite).sum())} non-finite teacher score(s) at '
                    f'iteration {it} in class(es) {classes}: the teacher diverged. '
                    f"Set nonfinite='skip' to drop them with a warning instead.")
        self.nonfinite_count.index_add_(0, labels.long().clamp(0, self.num_classes - 1),
                                        (~finite).long())
        return finite

    def update(self, scores: Tensor, labels: Tensor, push: Tensor,
               max_per_class: Optional[int] = None) -> Tensor:
        """Push the scores where ``push`` is True into their classes' queues (the others go to
        a discarded spare row), refit, and return the (C,) thresholds."""
        c = self.num_classes
        if self.gather and get_world_size() > 1:
            scores, labels, push = gather_across_ranks(scores, labels, push)
            if max_per_class is not None:
                max_per_class *= get_world_size()
        labels = torch.where(push, labels.long(), torch.full_like(labels, c, dtype=torch.long))
        scores = torch.nan_to_num(scores.to(self.queue.dtype), nan=0.0, posinf=0.0,
                                  neginf=0.0)
        spare = self.queue.new_zeros((1, self.queue_size))
        queue = push_scores(torch.cat([self.queue, spare]), scores, labels, max_per_class)
        self.queue.copy_(queue[:c])
        thr = gmm_thresholds(self.queue, policy=self.policy, fallback=self.fallback,
                             max_iter=self.max_iter, tol=self.tol)
        self.current.copy_(thr.clamp_min(self.min_thr))
        return self.current

    def _keep(self, scores: Tensor, labels: Tensor, finite: Tensor, thr: Tensor) -> Tensor:
        # labels are range-checked in _check on CPU; the clamp keeps a GPU run in 'skip' mode
        # from an out-of-range index
        return finite & score_threshold_mask(scores, labels.clamp(0, self.num_classes - 1),
                                             thr)

    # ------------------------------------------------------------------ filter API
    def filter_batch(self, batch: List[Any], context: Context = None) -> List[Any]:
        if not batch:
            return batch
        sizes = [len(inst) for inst in batch]
        scores = torch.cat([inst.scores for inst in batch])
        labels = torch.cat([inst.labels for inst in batch])
        finite = self._check(scores, labels, context)
        thr = self.update(scores, labels, finite)
        keep = self._keep(scores, labels, finite, thr)
        return [take(inst, k) for inst, k in zip(batch, keep.split(sizes))]

    def keep_dense(self, scores: Tensor, labels: Tensor, mask: Tensor,
                   context: Context = None) -> Tensor:
        flat_s, flat_l = scores.reshape(-1), labels.reshape(-1)
        finite = self._check(flat_s, flat_l, context)
        # A random sample of the surviving pixels enters the queue: shuffle, then the FIFO
        # takes the first `dense_samples` of each class.
        perm = torch.randperm(flat_s.numel(), device=flat_s.device)
        push = (finite & mask.reshape(-1))[perm]
        thr = self.update(flat_s[perm], flat_l[perm], push, self.dense_samples)
        return self._keep(flat_s, flat_l, finite, thr).view_as(scores)

    def thresholds(self) -> Tensor:
        return self.current
