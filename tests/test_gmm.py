"""Batched GMM thresholds against an independent per-class sklearn reference; score queues."""
import warnings

import numpy as np
import pytest
import torch
from sklearn.mixture import GaussianMixture

from mtkit.filters.gmm import MIN_SCORES, fit_gmm2, gmm_thresholds, push_scores


def sklearn_threshold(row: np.ndarray, policy: str, fallback: float) -> float:
    """The published recipe, one class at a time, written from the paper's description."""
    s = row[row > 0].astype(np.float64)
    if len(s) < MIN_SCORES:
        return fallback
    s = s[:, None]
    gmm = GaussianMixture(2, weights_init=[0.5, 0.5], means_init=[[s.min()], [s.max()]],
                          precisions_init=[[[1.0]], [[1.0]]])
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # non-convergence on degenerate rows
        gmm.fit(s)
    assign = gmm.predict(s)
    if not (assign == 1).any():
        return fallback
    pos = s[assign == 1, 0]
    if policy == 'middle':
        return float(pos.min())
    dens = gmm.score_samples(s)[assign == 1]
    best = pos[np.argmax(dens)]
    return float(pos[pos >= best].min())


def adversarial_queues(q: int = 100) -> np.ndarray:
    rng = np.random.default_rng(0)
    rows = [
        np.full(q, 0.3),                                     # all equal
        np.r_[0.2, 0.9, np.zeros(q - 2)],                    # two scores: fallback
        np.r_[0.2, 0.4, 0.9, np.zeros(q - 3)],               # three scores: fallback
        np.r_[0.2, 0.4, 0.8, 0.9, np.zeros(q - 4)],          # exactly four
        np.r_[rng.normal(0.2, 0.03, 70), rng.normal(0.85, 0.03, 30)],  # bimodal
        rng.uniform(0.01, 1, q),                             # uniform
        np.r_[np.full(50, 0.3), np.full(50, 0.7)],           # two spikes (variances collapse)
        np.r_[np.full(99, 0.3), 0.9],                        # one outlier
        np.zeros(q),                                         # class never seen
        rng.beta(2, 5, q),                                   # skewed
    ]
    return np.clip(np.stack(rows), 0, 1).astype(np.float32)


@pytest.mark.parametrize('policy', ['high', 'middle'])
def test_gmm_thresholds_match_sklearn(policy):
    rng = np.random.default_rng(1)
    random_rows = np.concatenate([rng.beta(2, 6, (40, 60)), rng.beta(6, 2, (40, 40))], 1)
    random_rows[::7, rng.integers(10, 90):] = 0  # ragged queues
    queues = np.concatenate([adversarial_queues(), random_rows.astype(np.float32)])
    ours = gmm_thresholds(torch.from_numpy(queues), policy=policy, fallback=0.42).numpy()
    ref = np.array([sklearn_threshold(r, policy, 0.42) for r in queues])
    np.testing.assert_allclose(ours, ref, atol=1e-3)
    assert ours[1] == ours[2] == ours[8] == np.float32(0.42)  # fewer than 4 scores
    assert ours[0] == np.float32(0.42)  # all equal: the tie goes to the negative component


def test_fixed_iteration_path_matches_early_stop():
    """The no-sync path (frozen converged rows, max_iter steps) gives the same parameters."""
    q = torch.from_numpy(adversarial_queues())
    a = fit_gmm2(q, q > 0, early_stop=True)
    b = fit_gmm2(q, q > 0, early_stop=False)
    for x, y in zip(a, b):
        assert torch.equal(x, y)
    assert bool(a.converged[a.fitted].all())


def test_fit_is_independent_of_batch_neighbours():
    q = torch.from_numpy(adversarial_queues())
    full = gmm_thresholds(q)
    alone = torch.stack([gmm_thresholds(q[i:i + 1])[0] for i in range(len(q))])
    assert torch.equal(full, alone)


def test_fit_rejects_bad_shapes_and_policy():
    with pytest.raises(ValueError, match=r'\(C, Q\)'):
        fit_gmm2(torch.zeros(3), torch.zeros(3, dtype=torch.bool))
    with pytest.raises(ValueError, match="'high' or 'middle'"):
        gmm_thresholds(torch.zeros(2, 5), policy='low')


def test_push_scores_is_a_per_class_fifo():
    queue = torch.tensor([[0.1, 0.2, 0.3], [0.4, 0.0, 0.0], [0.5, 0.6, 0.7]])
    scores = torch.tensor([0.91, 0.92, 0.93, 0.94, 0.95, 0.96])
    labels = torch.tensor([0, 2, 0, 2, 2, 2])
    out = push_scores(queue, scores, labels)
    expected = []
    for c in range(3):
        row = torch.cat([scores[labels == c], queue[c]])[:3]
        expected.append(row)
    assert torch.equal(out, torch.stack(expected))
    assert out[2].tolist() == pytest.approx([0.92, 0.94, 0.95])
    assert torch.equal(push_scores(queue, scores[:0], labels[:0]), queue)


def test_push_scores_random_against_loop():
    g = torch.Generator().manual_seed(0)
    queue = torch.rand(7, 20, generator=g)
    for _ in range(5):
        m = int(torch.randint(0, 40, (), generator=g))
        scores = torch.rand(m, generator=g)
        labels = torch.randint(0, 7, (m, ), generator=g)
        out = push_scores(queue, scores, labels)
        for c in range(7):
            assert torch.equal(out[c], torch.cat([scores[labels == c], queue[c]])[:20])
        queue = out


TRITON_CHECK = r'''
import json, sys
import numpy as np, torch
sys.path.insert(0, sys.argv[1])
from test_gmm import adversarial_queues
from mtkit.filters import gmm_triton
from mtkit.filters.gmm import gmm_thresholds
rng = np.random.default_rng(2)
rows = np.concatenate([rng.beta(2, 6, (6, 60)), rng.beta(6, 2, (6, 40))], 1).astype(np.float32)
rows[::3, rng.integers(10, 90):] = 0
q = torch.from_numpy(np.concatenate([adversarial_queues(), rows]))
assert gmm_triton.available(q)
out = {}
for policy in ('high', 'middle'):
    ref = gmm_thresholds(q, policy=policy, fallback=0.42, backend='torch')
    got = gmm_thresholds(q, policy=policy, fallback=0.42, backend='triton')
    out[policy] = [ref.tolist(), got.tolist(), str(got.dtype)]
print(json.dumps(out))
'''


def test_triton_kernel_gives_the_torch_thresholds(tmp_path):
    """The one-kernel GPU path, run by Triton's CPU interpreter, gives exactly the torch
    path's thresholds (adversarial rows included)."""
    pytest.importorskip('triton')
    import json
    import os
    import subprocess
    import sys
    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, TRITON_INTERPRET='1')
    res = subprocess.run([sys.executable, '-c', TRITON_CHECK, here], env=env,
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    for policy, (ref, got, dtype) in out.items():
        assert dtype == 'torch.float32'
        assert got == ref, policy
        assert got[1] == got[2] == got[8] == pytest.approx(0.42)  # fewer than 4 scores


def test_gmm_backend_errors():
    with pytest.raises(ValueError, match="backend must be 'auto', 'torch' or 'triton'"):
        gmm_thresholds(torch.rand(2, 5), backend='cuda')
    from mtkit.filters import gmm_triton
    if not gmm_triton.available(torch.rand(2, 5)):
        with pytest.raises(RuntimeError, match='needs Triton and a CUDA tensor'):
            gmm_thresholds(torch.rand(2, 5), backend='triton')
    # 'auto' on a CPU tensor is the torch path, whatever is installed
    q = torch.from_numpy(adversarial_queues())
    assert torch.equal(gmm_thresholds(q, backend='auto'), gmm_thresholds(q, backend='torch'))
