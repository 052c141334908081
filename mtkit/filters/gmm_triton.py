"""Consistent-Teacher GMM thresholds in one GPU kernel (Triton): EM and threshold per class.

:func:`mtkit.filters.gmm.gmm_thresholds` is ~40 tensor ops per EM iteration and runs a fixed
``max_iter`` iterations on a GPU (reading a convergence flag would wait for the device), i.e.
thousands of tiny kernel launches: ~39 ms for 80 classes on an H200, launch-bound. Here one
program per class keeps its queue (Q <= 4096 scores) in registers and runs the whole fit --
the same initialisation, E- and M-steps in float64, the same per-class stopping rule (a
converged class is frozen, so it stops exactly where the torch path stops) -- and then the
threshold: one launch for all classes.

The arithmetic mirrors the torch path operation by operation (the log-density as ``a + b x +
c x^2`` of the same coefficients, the responsibility as the sigmoid of their difference, the
parameters' round trip through the coefficients before the threshold), so both give the same
thresholds; sums are accumulated in another order, which moves float64 values in the last
bits only. ``tests/test_gmm.py`` checks the two paths against each other (with Triton's CPU
interpreter when no GPU is present).

Triton is optional: :func:`available` says whether this path can run for a tensor.
"""
import math
import os

import torch
from torch import Tensor

try:  # pragma: no cover - depends on the installation
    import triton
    import triton.language as tl
except ImportError:  # pragma: no cover
    triton = None

from .gmm import MIN_SCORES

MAX_QUEUE = 4096
_LOG_2PI = math.log(2.0 * math.pi)
_EPS10 = 10 * torch.finfo(torch.float64).eps


def available(scores: Tensor) -> bool:
    """True when the kernel can run on ``scores``: Triton is installed and the tensor is on a
    CUDA device (or Triton's CPU interpreter is on: ``TRITON_INTERPRET=1``), and the queue is
    at most ``MAX_QUEUE`` long."""
    if triton is None or scores.ndim != 2 or scores.shape[1] > MAX_QUEUE:
        return False
    return scores.is_cuda or (scores.device.type == 'cpu'
                              and os.environ.get('TRITON_INTERPRET') == '1')


if triton is not None:

    @triton.jit
    def _logaddexp(a, b):
        m = tl.maximum(a, b)
        return m + tl.log(1.0 + tl.exp(-tl.abs(a - b)))

    @triton.jit
    def _coef(logw, mu, var, log2pi):
        c = -0.5 / var
        b = mu / var
        a = logw - 0.5 * (log2pi + tl.log(var)) + c * mu * mu
        return a, b, c

    @triton.jit
    def _gmm_threshold_kernel(x_ptr, valid_ptr, out_ptr, n_iter_ptr, Q, stride_x, stride_v,
                              tol, reg_covar, fallback, eps10, log2pi,
                              MAX_ITER: tl.constexpr, MIN_N: tl.constexpr, HIGH: tl.constexpr,
                              BLOCK: tl.constexpr):
        row = tl.program_id(0)
        offs = tl.arange(0, BLOCK)
        inb = offs < Q
        x = tl.load(x_ptr + row * stride_x + offs, mask=inb, other=0.0).to(tl.float64)
        v = (tl.load(valid_ptr + row * stride_v + offs, mask=inb, other=0) != 0) & inb
        vf = tl.where(v, 1.0, 0.0).to(tl.float64)
        inf = float('inf')
        n = tl.sum(vf, 0)
        fitted = n >= MIN_N
        nf = tl.maximum(n, 1.0)
        lo = tl.min(tl.where(v, x, inf), 0)
        hi = tl.max(tl.where(v, x, -inf), 0)
        lo = tl.where(fitted, lo, 0.0)
        hi = tl.where(fitted, hi, 1.0)
        xv = x * vf
        x2 = xv * x
        t1 = tl.sum(xv, 0)
        t2 = tl.sum(x2, 0)
        half = tl.log(0.5 + tl.zeros_like(n))
        one = 1.0 + tl.zeros_like(n)
        a0, b0, c0 = _coef(half, lo, one, log2pi)
        a1, b1, c1 = _coef(half, hi, one, log2pi)
        prev = -inf + tl.zeros_like(n)
        active = fitted
        iters = tl.zeros_like(n)
        for _ in range(MAX_ITER):
            lp0 = a0 * vf + b0 * xv + c0 * x2
            lp1 = a1 * vf + b1 * xv + c1 * x2
            d = (a1 - a0) * vf + (b1 - b0) * xv + (c1 - c0) * x2
            r1 = 1.0 / (1.0 + tl.exp(-d))
            norm = _logaddexp(lp0, lp1)
            s0 = tl.sum(r1 * vf, 0)
            s1 = tl.sum(r1 * xv, 0)
            s2 = tl.sum(r1 * x2, 0)
            ll = tl.sum(norm * vf, 0) / nf
            nk0 = (n - s0) + eps10
            nk1 = s0 + eps10
            mu0 = (t1 - s1) / nk0
            mu1 = s1 / nk1
            var0 = tl.maximum((t2 - s2) / nk0 - mu0 * mu0, 0.0) + reg_covar
            var1 = tl.maximum(s2 / nk1 - mu1 * mu1, 0.0) + reg_covar
            tot = nk0 + nk1
            na0, nb0, nc0 = _coef(tl.log(nk0 / tot), mu0, var0, log2pi)
            na1, nb1, nc1 = _coef(tl.log(nk1 / tot), mu1, var1, log2pi)
            a0 = tl.where(active, na0, a0)
            b0 = tl.where(active, nb0, b0)
            c0 = tl.where(active, nc0, c0)
            a1 = tl.where(active, na1, a1)
            b1 = tl.where(active, nb1, b1)
            c1 = tl.where(active, nc1, c1)
            iters += tl.where(active, 1.0, 0.0)
            active = active & (tl.abs(ll - prev) >= tol)
            prev = ll
        # parameters from the coefficients, then the coefficients again (as the torch path)
        var0 = -0.5 / c0
        var1 = -0.5 / c1
        mu0 = b0 * var0
        mu1 = b1 * var1
        w0 = tl.exp(a0 + 0.5 * (log2pi + tl.log(var0)) - c0 * mu0 * mu0)
        w1 = tl.exp(a1 + 0.5 * (log2pi + tl.log(var1)) - c1 * mu1 * mu1)
        a0, b0, c0 = _coef(tl.log(w0), mu0, var0, log2pi)
        a1, b1, c1 = _coef(tl.log(w1), mu1, var1, log2pi)
        lp0 = a0 + b0 * x + c0 * (x * x)
        lp1 = a1 + b1 * x + c1 * (x * x)
        positive = v & (lp1 > lp0)
        if HIGH:
            density = tl.where(positive, _logaddexp(lp0, lp1), -inf)
            best = tl.max(density, 0)
            positive = positive & (density == best)
        thr = tl.min(tl.where(positive, x, inf), 0)
        ok = fitted & (tl.max(tl.where(positive, 1.0, 0.0), 0) > 0)
        tl.store(out_ptr + row, tl.where(ok, thr, fallback))
        tl.store(n_iter_ptr + row, iters)


def gmm_thresholds_triton(scores: Tensor, valid: Tensor, policy: str = 'high',
                          fallback: float = 0.5, max_iter: int = 100, tol: float = 1e-3,
                          reg_covar: float = 1e-6) -> Tensor:
    """:func:`mtkit.filters.gmm.gmm_thresholds` (same arguments, ``valid`` required) in one
    kernel launch. Needs :func:`available`."""
    if not available(scores):
        raise RuntimeError('gmm_thresholds_triton needs Triton and a CUDA tensor (or '
                           f'TRITON_INTERPRET=1 on CPU) with at most {MAX_QUEUE} scores per '
                           f'class; got {scores.device} {tuple(scores.shape)}')
    c, q = scores.shape
    x = scores if scores.stride(1) == 1 else scores.contiguous()
    v = valid.to(torch.uint8)
    v = v if v.stride(1) == 1 else v.contiguous()
    out = torch.empty(c, dtype=torch.float64, device=scores.device)
    n_iter = torch.empty(c, dtype=torch.float64, device=scores.device)
    block = max(16, triton.next_power_of_2(q))
    _gmm_threshold_kernel[(c, )](x, v, out, n_iter, q, x.stride(0), v.stride(0), float(tol),
                                 float(reg_covar), float(fallback), _EPS10, _LOG_2PI,
                                 MAX_ITER=int(max_iter), MIN_N=MIN_SCORES,
                                 HIGH=policy == 'high', BLOCK=block,
                                 num_warps=4 if block <= 1024 else 8)
    return out.to(scores.dtype)
