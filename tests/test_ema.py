"""EMA core: fused update against hand-computed values and a reference loop; schedules."""
import copy

import pytest
import torch
from torch import nn

from mtkit.teachers import build_ema_plan, copy_student_to_teacher_, ema_update_
from mtkit.teachers.momentum import build_momentum_schedule, with_burn_in


def _net(dtype=torch.float32):
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Linear(2, 3)).to(dtype)


def test_hand_computed_single_value():
    teacher, student = nn.Linear(1, 1, bias=False), nn.Linear(1, 1, bias=False)
    teacher.weight.data.fill_(1.0)
    student.weight.data.fill_(3.0)
    plan = build_ema_plan(teacher, student)
    ema_update_(plan, 0.25)  # (1 - 0.25) * 1 + 0.25 * 3 = 1.5
    assert teacher.weight.item() == pytest.approx(1.5)
    ema_update_(plan, 0.5)  # 0.5 * 1.5 + 0.5 * 3 = 2.25
    assert teacher.weight.item() == pytest.approx(2.25)
    ema_update_(plan, 1.0)
    assert teacher.weight.item() == 3.0


@pytest.mark.parametrize('policy', ['copy', 'average', 'keep'])
def test_matches_reference_loop(policy):
    student = _net()
    student(torch.randn(2, 3, 4, 4))  # BN running stats move, num_batches_tracked = 1
    teacher = _net()
    with torch.no_grad():
        for p in teacher.parameters():
            p.add_(torch.randn_like(p))
    ref = copy.deepcopy(teacher)
    m = 0.3
    plan = build_ema_plan(teacher, student, policy)
    ema_update_(plan, m)
    with torch.no_grad():
        for rp, sp in zip(ref.parameters(), student.parameters()):
            rp.mul_(1 - m).add_(sp, alpha=m)
        for rb, sb in zip(ref.buffers(), student.buffers()):
            if policy == 'copy' or (policy == 'average' and not rb.is_floating_point()):
                rb.copy_(sb)
            elif policy == 'average':
                rb.mul_(1 - m).add_(sb, alpha=m)
    for (name, a), b in zip(teacher.state_dict().items(), ref.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7, msg=name)
    bn_t, bn_s = teacher[1], student[1]
    if policy == 'keep':
        assert bn_t.num_batches_tracked.item() == 0
        assert torch.equal(bn_t.running_mean, torch.zeros(4))
    else:
        assert bn_t.num_batches_tracked.item() == 1
    if policy == 'copy':
        assert torch.equal(bn_t.running_var, bn_s.running_var)


def test_mixed_dtypes_are_grouped():
    teacher, student = _net(), _net()
    teacher[2].to(torch.float64)
    student[2].to(torch.float64)
    with torch.no_grad():
        for p in student.parameters():
            p.fill_(2.0)
    plan = build_ema_plan(teacher, student)
    assert {k[1] for k in plan.params} == {torch.float32, torch.float64}
    copy_student_to_teacher_(plan)
    for p in teacher.parameters():
        assert torch.all(p == 2.0)
    assert teacher[2].weight.dtype == torch.float64


def test_architecture_mismatch_names_the_tensor():
    with pytest.raises(ValueError, match='teacher lacks'):
        build_ema_plan(nn.Linear(2, 2), nn.Sequential(nn.Linear(2, 2)))
    with pytest.raises(ValueError, match="'weight' differs"):
        build_ema_plan(nn.Linear(2, 3), nn.Linear(2, 2))


def test_bad_momentum_and_policy():
    plan = build_ema_plan(nn.Linear(1, 1), nn.Linear(1, 1))
    with pytest.raises(ValueError, match='weight of the new value'):
        ema_update_(plan, 1.5)
    with pytest.raises(ValueError, match='buffer_policy'):
        build_ema_plan(nn.Linear(1, 1), nn.Linear(1, 1), 'skip')


def test_schedules_hand_computed():
    const = build_momentum_schedule(dict(type='constant', momentum=0.001))
    assert const(0) == const(10 ** 6) == 0.001
    warm = build_momentum_schedule(dict(type='warmup', momentum=0.01, gamma=100))
    assert warm(0) == 1.0
    assert warm(100) == pytest.approx(0.5)      # 100 / 200
    assert warm(10 ** 6) == 0.01                 # floor
    ct = build_momentum_schedule(dict(type='consistent_teacher', decay=0.9995, warmup_steps=0))
    assert ct(0) == pytest.approx(1.0)           # decay_t = min(0.9995, 1 - 1/1) = 0
    assert ct(1) == pytest.approx(0.5)           # decay_t = 1 - 1/2
    assert ct(9) == pytest.approx(0.1)           # decay_t = 1 - 1/10
    assert ct(10 ** 6) == pytest.approx(0.0005)  # decay_t capped at 0.9995
    ct_w = build_momentum_schedule(dict(type='consistent_teacher', decay=0.99, warmup_steps=4))
    assert ct_w(5) == pytest.approx(0.5)         # 1 - min(0.99, 1 - 5/10)


def test_burn_in_wraps_any_schedule():
    warm = with_burn_in(build_momentum_schedule(dict(type='warmup', momentum=0.01, gamma=10)),
                        begin_iter=5)
    assert [warm(s) for s in range(5)] == [1.0] * 5
    assert warm(5) == 1.0                        # schedule step 0
    assert warm(15) == pytest.approx(0.5)        # schedule step 10: 10 / 20


def test_schedule_config_errors():
    with pytest.raises(KeyError, match='must be one of'):
        build_momentum_schedule(dict(type='cosine'))
    with pytest.raises(KeyError, match=r"'warmup': unknown key\(s\) \['gama'\]; it accepts "
                       r"\['momentum', 'gamma'\]"):
        build_momentum_schedule(dict(type='warmup', momentum=0.1, gama=3))
    with pytest.raises(ValueError, match='momentum must be in'):
        build_momentum_schedule(dict(type='constant', momentum=-0.1))
