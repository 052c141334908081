"""Test-time methods on a real (small) classifier: predictions come before the update, reset
returns to the source, the stream loop counts errors and reports divergence and bad input."""
import pytest
import torch

from mtkit.registry import MODELS
from mtkit.tta.methods import (RMT, CoTTA, Source, Tent, build_tta_method, source_prototypes,
                               use_batch_statistics)
from mtkit.tta.stream import gradual_domains, run_stream
from mtkit.utils.errors import ConfigKeyError


def model():
    torch.manual_seed(0)
    return MODELS.build(dict(type='mtkit.TTAImageClassifier', num_classes=10,
                             backbone=dict(type='mtkit.SmallResNet', widths=(8, 16))))


def batch(n=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, 32, 32, generator=g), torch.randint(0, 10, (n, ), generator=g)


def params(m):
    return [p.detach().clone() for p in m.parameters()]


def test_source_never_changes_the_model():
    m = model()
    before = params(m)
    method = Source(m)
    x, _ = batch()
    out = method(x)
    assert out.shape == (16, 10)
    assert all(torch.equal(a, b) for a, b in zip(before, params(m)))


def test_tent_predicts_before_it_updates_and_resets_exactly():
    m = model()
    source = params(m)
    method = Tent(m, lr=1e-2)
    x, _ = batch()
    reference = model()
    use_batch_statistics(reference)
    with torch.no_grad():
        expected = reference.head(reference.extract_feat(x))
    out = method(x)
    torch.testing.assert_close(out, expected)  # the pre-update prediction
    after = params(m)
    changed = [not torch.equal(a, b) for a, b in zip(source, after)]
    assert any(changed)
    # only BN affine parameters move
    names = [n for n, _ in m.named_parameters()]
    assert all(('bn' in n or 'short.1' in n or 'stem.1' in n) for n, c in zip(names, changed)
               if c)
    method.reset()
    assert all(torch.equal(a, b) for a, b in zip(source, params(m)))


def test_cotta_full_restore_returns_to_source():
    m = model()
    source = params(m)
    method = CoTTA(m, lr=1e-2, restore_p=1.0, num_aug=2, ap=1.1)  # ap > 1: always augment
    x, _ = batch()
    out = method(x)
    assert out.shape == (16, 10) and torch.isfinite(out).all()
    assert all(torch.equal(a, b) for a, b in zip(source, params(m)))  # p = 1: all restored
    assert not all(torch.equal(a, b) for a, b in zip(source, params(method.teacher)))


def test_rmt_needs_its_source_data_and_adapts():
    m = model()
    method = RMT(m, lr=1e-3)
    x, y = batch()
    with pytest.raises(RuntimeError, match='set_source'):
        method(x)
    protos = source_prototypes(m, [batch(40, 1), batch(40, 2)], 10)
    assert protos.shape == (10, 16)
    method.set_source(protos)
    before = params(m)
    out = method(x)
    assert out.shape == (16, 10) and torch.isfinite(out).all()
    assert not all(torch.equal(a, b) for a, b in zip(before, params(m)))
    replay = RMT(model(), source_free=False)
    replay.set_source(protos)
    with pytest.raises(ConfigKeyError, match='source replay'):
        replay(x)
    with pytest.raises(ValueError, match=r'no source samples of class\(es\) \[2, 3\]'):
        source_prototypes(m, [(x[:2], torch.tensor([0, 1]))], 4)


def test_build_names_bad_method_config():
    with pytest.raises(ConfigKeyError, match="unknown test-time method 'Tnet'"):
        build_tta_method(dict(type='Tnet'), model())
    with pytest.raises(ConfigKeyError, match=r"unknown key\(s\) \['learning_rate'\]"):
        build_tta_method(dict(type='Tent', learning_rate=1.0), model())


class Fixed(torch.nn.Module):
    """Predicts class 0 always; NaN at a chosen batch."""

    def __init__(self, nan_at=None):
        super().__init__()
        self.calls, self.resets, self.nan_at = 0, 0, nan_at

    def reset(self):
        self.resets += 1

    def forward(self, x):
        out = torch.zeros(x.shape[0], 10)
        out[:, 0] = 1.0
        if self.calls == self.nan_at:
            out[0, 0] = float('nan')
        self.calls += 1
        return out


def test_run_stream_counts_errors_per_domain_and_resets_as_told():
    y0 = torch.tensor([0, 0, 1, 1])  # 50% error for "always 0"
    y1 = torch.tensor([1, 1, 1, 0])  # 75%
    x = torch.zeros(4, 3, 32, 32)
    domains = [('a', [(x, y0)]), ('b', [(x[:0], y1[:0]), (x, y1)])]  # b has an empty batch
    method = Fixed()
    res = run_stream(method, domains, 'continual')
    assert res['errors'] == {'a': 50.0, 'b': 75.0} and res['mean_error'] == 62.5
    assert res['images'] == 8 and method.resets == 1
    method = Fixed()
    run_stream(method, domains, 'reset')
    assert method.resets == 2


def test_run_stream_reports_divergence_with_domain_and_batch():
    x, y = torch.zeros(4, 3, 32, 32), torch.zeros(4, dtype=torch.long)
    domains = [('fog-5', [(x, y), (x, y), (x, y)])]
    with pytest.raises(FloatingPointError, match=r"domain 'fog-5' \(#0\), batch 2 \(images 8-11\)"):
        run_stream(Fixed(nan_at=2), domains)


def test_gradual_sequence():
    seq = gradual_domains(('fog', 'snow'))
    assert seq[:9] == [f'fog-{s}' for s in (1, 2, 3, 4, 5, 4, 3, 2, 1)]
    assert seq[9] == 'snow-1' and len(seq) == 18


def test_rmt_warmup_trains_on_source_and_becomes_the_reset_state():
    m = model()
    before = params(m)
    method = RMT(m, warmup_steps=3)
    protos = source_prototypes(m, [batch(40, 1)], 10)
    with pytest.raises(ConfigKeyError, match='warmup_steps needs source batches'):
        method.set_source(protos)
    src = [batch(16, 3)] * 3
    method.set_source(protos, iter(src))
    warmed = params(m)
    assert not all(torch.equal(a, b) for a, b in zip(before, warmed))
    method(batch()[0])
    method.reset()
    assert all(torch.equal(a, b) for a, b in zip(warmed, params(m)))


def test_run_stream_keeps_every_occurrence_of_a_repeated_domain():
    x = torch.zeros(4, 3, 32, 32)
    wrong, right = torch.ones(4, dtype=torch.long), torch.zeros(4, dtype=torch.long)
    domains = [('fog-4', [(x, wrong)]), ('fog-5', [(x, right)]), ('fog-4', [(x, right)])]
    res = run_stream(Fixed(), domains, 'gradual')
    assert res['errors'] == {'fog-4': 100.0, 'fog-5': 0.0, 'fog-4@2': 0.0}
    assert res['mean_error'] == pytest.approx(100 / 3) and res['mean_error_severity5'] == 0.0


def test_batch_of_one_falls_back_to_source_statistics_where_batch_statistics_are_undefined():
    """A BN layer after global pooling sees one value per channel for a batch of one: it
    normalises with the source running statistics; conv BN layers keep per-image statistics."""
    import copy
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4),
                              torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                              torch.nn.BatchNorm1d(4))
    net[1].running_mean.fill_(0.3)
    net[4].running_mean.copy_(torch.tensor([0.1, -0.2, 0.3, 0.0]))
    net[4].running_var.copy_(torch.tensor([2.0, 0.5, 1.0, 4.0]))
    net[4].weight.data.copy_(torch.tensor([1.0, 2.0, 0.5, 1.0]))
    source = copy.deepcopy(net).eval()
    x = torch.randn(1, 3, 8, 8)
    with torch.no_grad():
        conv = net[0](x)
        per_image = (conv - conv.mean((0, 2, 3), keepdim=True)) / torch.sqrt(
            conv.var((0, 2, 3), unbiased=False, keepdim=True) + 1e-5)
        pooled = per_image.mean((2, 3))  # BN2d weight 1, bias 0
        expected = source[4](pooled)  # the source statistics of the 1d layer
    use_batch_statistics(net)
    with torch.no_grad():
        torch.testing.assert_close(net(x), expected)
        # a teacher copy keeps the fallback, bound to itself
        teacher = copy.deepcopy(net)
        teacher[4].weight.data.fill_(3.0)
        assert not torch.allclose(teacher(x), net(x))
        # with two images the 1d layer uses their statistics again
        two = net(torch.randn(2, 3, 8, 8))
        assert torch.allclose(two.mean(0), net[4].bias, atol=1e-5)
    # a layer without source statistics names the problem
    bare = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.BatchNorm1d(4,
                                                                        track_running_stats=False))
    use_batch_statistics(bare)
    with pytest.raises(ValueError, match='batches of two or more'):
        bare(torch.randn(1, 4))
    # every method adapts on a batch of one image with the small ResNet
    for cfg in (dict(type='BNAdapt'), dict(type='Tent'), dict(type='CoTTA', num_aug=2)):
        method = build_tta_method(cfg, model())
        out = method(batch(1)[0])
        assert out.shape == (1, 10) and torch.isfinite(out).all()


def test_bn_prior_mixes_source_and_batch_statistics_by_sample_count():
    torch.manual_seed(0)
    bn = torch.nn.BatchNorm2d(3)
    bn.running_mean.copy_(torch.tensor([0.5, -1.0, 2.0]))
    bn.running_var.copy_(torch.tensor([1.0, 4.0, 0.25]))
    bn.weight.data.copy_(torch.tensor([1.0, 2.0, 0.5]))
    bn.bias.data.copy_(torch.tensor([0.0, 0.1, -0.2]))
    x = torch.randn(2, 3, 4, 5) * 3 + 1
    net = torch.nn.Sequential(bn)
    use_batch_statistics(net, prior=6.0)
    w = 2 / (2 + 6.0)  # n / (n + N)
    mean = 0.75 * torch.tensor([0.5, -1.0, 2.0]) + w * x.mean((0, 2, 3))
    var = 0.75 * torch.tensor([1.0, 4.0, 0.25]) + w * x.var((0, 2, 3), unbiased=False)
    expected = ((x - mean.view(1, 3, 1, 1)) / torch.sqrt(var.view(1, 3, 1, 1) + bn.eps)
                * bn.weight.view(1, 3, 1, 1) + bn.bias.view(1, 3, 1, 1))
    torch.testing.assert_close(net(x), expected)
    # differentiable through the batch part (Tent / RMT train with it)
    xg = x.clone().requires_grad_(True)
    net(xg).square().sum().backward()
    assert xg.grad is not None and torch.isfinite(xg.grad).all()
    # prior 0 is plain test-batch statistics; a negative prior is a config error
    plain = torch.nn.Sequential(torch.nn.BatchNorm2d(3))
    use_batch_statistics(plain, prior=0.0)
    out = plain(x)
    torch.testing.assert_close(out.mean((0, 2, 3)), torch.zeros(3), atol=1e-5, rtol=0)
    with pytest.raises(ConfigKeyError, match='bn_prior'):
        use_batch_statistics(torch.nn.Sequential(torch.nn.BatchNorm2d(3)), prior=-1)
    # every BN-based method takes it from its config
    for cfg in (dict(type='BNAdapt', bn_prior=16), dict(type='Tent', bn_prior=16),
                dict(type='CoTTA', bn_prior=16, num_aug=2), dict(type='RMT', bn_prior=16)):
        method = build_tta_method(cfg, model())
        assert all(m.bn_prior == 16 for m in method.model.modules()
                   if isinstance(m, torch.nn.BatchNorm2d))
