"""Batched two-component 1-D Gaussian mixtures and Consistent-Teacher thresholds (pure torch).

Consistent-Teacher (Wang et al., CVPR 2023) picks, for every class, a score threshold from a
2-component Gaussian mixture fitted to that class's recent teacher scores. This module fits
*all classes at once*: scores are a ``(C, Q)`` tensor with a validity mask for ragged queues,
and one EM step is a handful of tensor ops over every class together.

The EM reproduces ``sklearn.mixture.GaussianMixture(2, weights_init=[.5, .5],
means_init=[[min], [max]], precisions_init=[[[1.]], [[1.]]])`` (its defaults ``tol=1e-3``,
``reg_covar=1e-6``, ``max_iter=100``): the same initialisation, the same M-step (``nk`` gets
``10 * eps``, variances get ``reg_covar``), the same stopping rule (a class stops once the
change of its mean log-likelihood falls below ``tol``, keeping the parameters of the M-step
of that iteration). A class that has stopped is frozen while the others go on, so the result
does not depend on which classes share a batch.

Each component's log-density is a quadratic in ``x``, ``log w - log(2 pi var)/2 - (x - mu)^2 /
(2 var) = a + b x + c x^2``, so the E-step for both components of all classes is one batched
matrix product of ``[1, x, x^2]`` with a coefficient tensor, and the M-step's sufficient
statistics are a second one. The fit runs in float64 (the expanded quadratic
cancels badly in float32 once a variance collapses to ``reg_covar``).

Device behaviour: on CPU the loop stops as soon as every class has converged (reading that
flag costs nothing there). On other devices it runs ``max_iter`` steps with converged classes
frozen, so the training step never waits on the host. On CUDA, when Triton is installed,
:func:`gmm_thresholds` runs the whole fit and threshold as one kernel instead
(:mod:`mtkit.filters.gmm_triton`, the same thresholds); the torch EM there is ~40 launches per
iteration.
"""
import math
from typing import NamedTuple, Optional

import torch
from torch import Tensor

_LOG_2PI = math.log(2.0 * math.pi)
MIN_SCORES = 4  # fewer queued scores than this: no fit, the class uses its fallback


class GMM2(NamedTuple):
    """Fitted parameters; component 0 started at the minimum, component 1 at the maximum."""
    weights: Tensor  # (C, 2)
    means: Tensor  # (C, 2)
    variances: Tensor  # (C, 2)
    n_iter: Tensor  # (C,) EM iterations each class ran
    converged: Tensor  # (C,) bool
    fitted: Tensor  # (C,) bool: the class had >= MIN_SCORES valid scores


def _coefficients(logw: Tensor, mu: Tensor, var: Tensor) -> Tensor:
    """(C, 3, 2) coefficients ``[a, b, c]`` of ``log w_k + log N(x | mu_k, var_k)``."""
    c = -0.5 / var
    b = mu / var
    a = logw - 0.5 * (_LOG_2PI + torch.log(var)) + c * mu * mu
    return torch.stack((a, b, c), dim=1)


def _parameters(coef: Tensor):
    """Inverse of :func:`_coefficients`: ``(log w, mu, var)`` from (C, 3, 2) coefficients."""
    a, b, c = coef.unbind(1)
    var = -0.5 / c
    mu = b * var
    logw = a + 0.5 * (_LOG_2PI + torch.log(var)) - c * mu * mu
    return logw, mu, var


def _features(x: Tensor, valid: Tensor) -> Tensor:
    """(C, Q, 3) rows ``[1, x, x^2]``, zero for invalid entries."""
    v = valid.to(x.dtype)
    xv = x * v
    return torch.stack((v, xv, xv * x), dim=-1)


def fit_gmm2(x: Tensor, valid: Tensor, max_iter: int = 100, tol: float = 1e-3,
             reg_covar: float = 1e-6, early_stop: Optional[bool] = None) -> GMM2:
    """Fit a 2-component 1-D Gaussian mixture to every row of ``x`` at once.

    One EM iteration for all rows is two batched matrix products and about twenty small
    element-wise ops: the E-step evaluates ``[log p_0, log p_1, log p_1 - log p_0]`` for every
    value with one product of ``[1, x, x^2]`` and a (C, 3, 3) coefficient tensor; the
    responsibility of component 1 is the sigmoid of the difference; one more product gives
    component 1's sufficient statistics ``sum r [1, x, x^2]`` together with the
    log-likelihood, and component 0's are the totals minus component 1's.

    Args:
        x: (C, Q) values; entries where ``valid`` is False are ignored.
        valid: (C, Q) bool mask.
        max_iter: EM iterations at most (sklearn's default 100).
        tol: Convergence threshold on the change of the mean log-likelihood (sklearn's 1e-3).
        reg_covar: Added to every variance (sklearn's 1e-6).
        early_stop: Stop once all rows converged. Needs a host read of a flag each step, so
            the default (None) enables it on CPU only.

    Returns:
        :class:`GMM2` in float64. Rows with fewer than ``MIN_SCORES`` valid values are not
        fitted (``fitted`` False; their parameters are meaningless).
    """
    if x.shape != valid.shape or x.ndim != 2:
        raise ValueError(f'fit_gmm2: x and valid must both be (C, Q), got {tuple(x.shape)} and '
                         f'{tuple(valid.shape)}')
    if early_stop is None:
        early_stop = x.device.type == 'cpu'
    x = x.to(torch.float64)
    valid = valid.bool()
    n = valid.sum(1)
    fitted = n >= MIN_SCORES
    nf = n.clamp_min(1).to(x.dtype)
    inf = torch.tensor(float('inf'), dtype=x.dtype, device=x.device)
    lo = torch.where(valid, x, inf).amin(1)
    hi = torch.where(valid, x, -inf).amax(1)
    lo = torch.where(fitted, lo, torch.zeros_like(lo))
    hi = torch.where(fitted, hi, torch.ones_like(hi))

    feats = _features(x, valid)  # (C, Q, 3)
    feats_t = feats.transpose(1, 2).contiguous()  # (C, 3, Q): rows 1, x, x^2
    totals = feats.sum(1)  # (C, 3): [n, sum x, sum x^2]
    logw0 = torch.full((x.shape[0], 2), math.log(0.5), dtype=x.dtype, device=x.device)
    coef = _coefficients(logw0, torch.stack((lo, hi), dim=1), torch.ones_like(logw0))
    eps10 = 10 * torch.finfo(x.dtype).eps
    prev_ll = torch.full_like(nf, -float('inf'))
    active = fitted.clone()
    n_iter = torch.zeros_like(n)
    for _ in range(max_iter):
        if early_stop and not bool(active.any()):
            break
        # E-step under the current parameters (its log-likelihood is sklearn's lower bound).
        # Rows of (C, 3, Q) tensors keep every element-wise op on contiguous memory.
        coef3 = torch.cat((coef, coef[..., 1:] - coef[..., :1]), dim=2)  # (C, 3, 3)
        logp = torch.bmm(coef3.transpose(1, 2), feats_t)  # (C, 3, Q): lp0, lp1, lp1 - lp0
        resp1 = torch.sigmoid(logp[:, 2])
        norm = torch.logaddexp(logp[:, 0], logp[:, 1])
        stats = torch.bmm(torch.stack((resp1, norm), dim=1), feats)  # (C, 2, 3)
        ll = stats[:, 1, 0] / nf  # the features' first column is the validity mask
        # M-step for both components: component 0's statistics are the totals minus 1's.
        s1 = stats[:, 0]
        st = torch.stack((totals - s1, s1), dim=-1)  # (C, 3, 2)
        nk = st[:, 0] + eps10
        mu = st[:, 1] / nk
        var = (st[:, 2] / nk - mu * mu).clamp_min(0.0) + reg_covar
        logw = torch.log(nk / nk.sum(1, keepdim=True))
        coef = torch.where(active.view(-1, 1, 1), _coefficients(logw, mu, var), coef)
        n_iter = n_iter + active.long()
        active = active & ((ll - prev_ll).abs() >= tol)
        prev_ll = ll
    logw, mu, var = _parameters(coef)
    # a fitted row that stopped being active did so by converging
    return GMM2(logw.exp(), mu, var, n_iter, fitted & ~active, fitted)


def gmm_log_probs(gmm: GMM2, x: Tensor) -> Tensor:
    """(C, 2, Q) weighted component log-densities ``log w_k + log N(x | mu_k, var_k)``."""
    x = x.to(torch.float64)
    feats_t = _features(x, torch.ones_like(x, dtype=torch.bool)).transpose(1, 2)
    coef = _coefficients(gmm.weights.log(), gmm.means, gmm.variances)
    return torch.bmm(coef.transpose(1, 2), feats_t.contiguous())


def gmm_thresholds(scores: Tensor, valid: Optional[Tensor] = None, policy: str = 'high',
                   fallback: float = 0.5, backend: str = 'auto', **fit_kwargs) -> Tensor:
    """Per-class score thresholds of Consistent-Teacher from queued scores.

    The component initialised at the maximum is the positive one; a score is positive when
    that component's weighted density is strictly larger (a tie goes to the negative one, as
    ``argmax`` does in sklearn's ``predict``).

    * ``'high'``: the positive score with the highest mixture log-density (the lowest such
      score if several tie exactly), i.e. the lowest positive score that is >= it.
    * ``'middle'``: the lowest positive score.

    A class with fewer than ``MIN_SCORES`` valid scores, or no positive score, gets
    ``fallback``.

    Args:
        scores: (C, Q) queued scores.
        valid: (C, Q) bool; default ``scores > 0`` (Consistent-Teacher's empty slots are 0).
        policy: ``'high'`` or ``'middle'``.
        fallback: Threshold for classes that cannot be fitted.
        backend: ``'torch'`` (the batched EM above), ``'triton'`` (one kernel for the whole
            fit and threshold, :mod:`mtkit.filters.gmm_triton`; same thresholds), or
            ``'auto'``: Triton for CUDA tensors when it is installed, else torch.
        **fit_kwargs: Passed to :func:`fit_gmm2` (``max_iter``, ``tol``, ``reg_covar``;
            the Triton kernel always stops each class at convergence, as ``early_stop``).

    Returns:
        (C,) thresholds in the dtype of ``scores``.
    """
    if policy not in ('high', 'middle'):
        raise ValueError(f"gmm_thresholds: policy must be 'high' or 'middle', got {policy!r}")
    if backend not in ('auto', 'torch', 'triton'):
        raise ValueError(f"gmm_thresholds: backend must be 'auto', 'torch' or 'triton', got "
                         f'{backend!r}')
    if valid is None:
        valid = scores > 0
    if backend != 'torch':
        from . import gmm_triton  # Triton is optional
        if backend == 'triton' or (scores.is_cuda and gmm_triton.available(scores)):
            kwargs = {k: v for k, v in fit_kwargs.items() if k != 'early_stop'}
            return gmm_triton.gmm_thresholds_triton(scores, valid, policy, fallback, **kwargs)
    gmm = fit_gmm2(scores, valid, **fit_kwargs)
    x = scores.to(torch.float64)
    logp = gmm_log_probs(gmm, x)
    positive = valid & (logp[:, 1] > logp[:, 0])
    inf = torch.tensor(float('inf'), dtype=x.dtype, device=x.device)
    if policy == 'high':
        density = torch.logaddexp(logp[:, 0], logp[:, 1])
        density = torch.where(positive, density, -inf)
        best = density.amax(1, keepdim=True)
        positive = positive & (density == best)
    thr = torch.where(positive, x, inf).amin(1)
    ok = gmm.fitted & positive.any(1)
    return torch.where(ok, thr, torch.full_like(thr, fallback)).to(scores.dtype)


def push_scores(queue: Tensor, scores: Tensor, labels: Tensor,
                max_per_class: Optional[int] = None) -> Tensor:
    """Per-class FIFO: put ``scores`` in front of their class's row of ``queue``, keep ``Q``.

    Row ``c`` of the result is ``cat([scores[labels == c][:K] (batch order), queue[c]])[:Q]``
    with ``K = max_per_class`` (all when None), computed for all classes at once (no loop over
    classes, no host sync).

    Args:
        queue: (C, Q) current queue (newest first).
        scores: (M,) new scores.
        labels: (M,) their classes in ``[0, C)``.
        max_per_class: Push at most this many new scores per class.

    Returns:
        The new (C, Q) queue.
    """
    num_classes, q = queue.shape
    labels = labels.long()
    if scores.numel() == 0:
        return queue
    counts = torch.bincount(labels, minlength=num_classes)[:num_classes]  # (C,)
    # Rank of each new score within its class, in batch order (stable sort by label).
    order = torch.sort(labels, stable=True).indices
    sorted_labels = labels[order]
    starts = torch.cumsum(counts, 0) - counts
    rank_sorted = torch.arange(labels.numel(), device=labels.device) - starts[sorted_labels]
    rank = torch.empty_like(rank_sorted)
    rank[order] = rank_sorted
    # New scores go to columns [0, count); ranks >= cap fall into a spare column, dropped.
    cap = q if max_per_class is None else min(max_per_class, q)
    counts = counts.clamp_max(cap)
    fresh = queue.new_zeros((num_classes, q + 1))
    fresh[labels, torch.where(rank < cap, rank, q)] = scores.to(queue.dtype)
    fresh = fresh[:, :q]
    # Old scores shift right by the class's count.
    cols = torch.arange(q, device=queue.device).unsqueeze(0)
    src = cols - counts.unsqueeze(1)
    shifted = queue.gather(1, src.clamp_min(0))
    return torch.where(src >= 0, shifted, fresh)
