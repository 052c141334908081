"""Pure cores of test-time adaptation against hand-computed values: symmetric cross-entropy,
entropy, the supervised contrastive loss and CoTTA's stochastic restore."""
import math

import pytest
import torch

from mtkit.losses.consistency import (entropy, soft_cross_entropy, supervised_contrastive,
                                      symmetric_cross_entropy)
from mtkit.teachers.restore import stochastic_restore_


def test_symmetric_cross_entropy_by_hand():
    s = torch.tensor([[0.0, math.log(3.0)]])  # softmax (0.25, 0.75)
    t = torch.tensor([[math.log(4.0), 0.0]])  # softmax (0.8, 0.2)
    fwd = -(0.8 * math.log(0.25) + 0.2 * math.log(0.75))
    rev = -(0.25 * math.log(0.8) + 0.75 * math.log(0.2))
    assert symmetric_cross_entropy(s, t).item() == pytest.approx(0.5 * fwd + 0.5 * rev)
    assert symmetric_cross_entropy(s, t, alpha=0.0).item() == pytest.approx(fwd)
    assert symmetric_cross_entropy(s, t, alpha=1.0).item() == pytest.approx(rev)
    assert soft_cross_entropy(s, t.softmax(1)).item() == pytest.approx(fwd)
    # per pixel: classes on dim 1 of (N, C, H, W)
    dense = symmetric_cross_entropy(s[..., None, None].expand(1, 2, 2, 3),
                                    t[..., None, None].expand(1, 2, 2, 3))
    assert dense.shape == (1, 2, 3)
    assert torch.allclose(dense, torch.full((1, 2, 3), 0.5 * fwd + 0.5 * rev))
    with pytest.raises(ValueError, match='shapes differ'):
        symmetric_cross_entropy(s, t[:, :1])


def test_entropy_by_hand():
    logits = torch.tensor([[0.0, 0.0], [0.0, math.log(3.0)]])
    h = entropy(logits)
    assert h[0].item() == pytest.approx(math.log(2))
    assert h[1].item() == pytest.approx(-(0.25 * math.log(0.25) + 0.75 * math.log(0.75)))


def test_supervised_contrastive_by_hand():
    # 2 samples x 2 views in 2-D; sample 0 and 1 have different labels
    f = torch.tensor([[[1.0, 0.0], [0.0, 1.0]],
                      [[1.0, 0.0], [-1.0, 0.0]]])
    labels = torch.tensor([0, 1])
    t = 0.5
    z = f.reshape(4, 2)
    sim = z @ z.t() / t

    def anchor(i, pos):
        others = [j for j in range(4) if j != i]
        denom = math.log(sum(math.exp(sim[i, j]) for j in others))
        return -sum(sim[i, p].item() - denom for p in pos) / len(pos)

    want = (anchor(0, [1]) + anchor(1, [0]) + anchor(2, [3]) + anchor(3, [2])) / 4
    assert supervised_contrastive(f, labels, t).item() == pytest.approx(want, rel=1e-5)
    # same labels: every other view is a positive
    same = torch.tensor([0, 0])
    want_same = sum(anchor(i, [j for j in range(4) if j != i]) for i in range(4)) / 4
    assert supervised_contrastive(f, same, t).item() == pytest.approx(want_same, rel=1e-5)


def test_supervised_contrastive_ignores_anchors_without_positives():
    f = torch.nn.functional.normalize(torch.randn(3, 1, 4), dim=-1)  # one view each
    assert supervised_contrastive(f, torch.tensor([0, 1, 2])).item() == 0.0
    f.requires_grad_(True)
    supervised_contrastive(f, torch.tensor([0, 0, 1])).backward()
    assert f.grad is not None


def test_stochastic_restore_is_exact_and_has_the_right_rate():
    g = torch.Generator().manual_seed(0)
    params = [torch.full((1000, ), 5.0), torch.full((30, 40), -2.0)]
    sources = [torch.full((1000, ), 1.5), torch.full((30, 40), 7.0)]
    stochastic_restore_(params, sources, 0.25, generator=g)
    for x, s, old in zip(params, sources, (5.0, -2.0)):
        restored = x == s
        assert torch.all(restored | (x == old))  # every value is exactly one of the two
        assert abs(restored.float().mean().item() - 0.25) < 0.05
    stochastic_restore_(params, sources, 1.0)
    assert all(torch.equal(x, s) for x, s in zip(params, sources))
    with pytest.raises(ValueError, match='p must be in'):
        stochastic_restore_(params, sources, 1.5)
