"""Stable Mean Teacher's pure parts against hand-computed values: the temporal difference, the
DoP loss, Dice, the EMA ramp; the EoR module; StableTeacherHook on a real Runner with resume."""
import math
import os.path as osp

import pytest
import torch
from mmengine.model import BaseModel
from mmengine.runner import Runner

from mtkit.losses import dice_loss, dop_loss, ramp_weight, temporal_difference
from mtkit.models.video import ErrorRecoveryUNet, eor_ce_gain, eor_loss, refine
from mtkit.teachers.momentum import build_momentum_schedule
from mtkit.utils.errors import ConfigKeyError


def clip(values):
    """(1, T, 1, 1, 1) clip of one pixel's probability over T frames."""
    return torch.tensor(values).view(1, -1, 1, 1, 1)


def test_temporal_difference_by_hand():
    x = clip([0.2, 0.5, 0.9])
    torch.testing.assert_close(temporal_difference(x).flatten(), torch.tensor([0.3, 0.4]))
    with pytest.raises(ValueError, match='at least 2 frames'):
        temporal_difference(clip([0.1]))


def test_dop_loss_by_hand():
    s, t = clip([0.2, 0.5, 0.9]), clip([0.1, 0.5, 0.7])
    # MSE(S,T) = (0.01 + 0 + 0.04) / 3; D S = [0.3, 0.4], D T = [0.4, 0.2]: (0.01 + 0.04) / 2
    term = 0.05 / 3 + 0.025
    assert float(dop_loss(s, t)) == pytest.approx(term)
    assert float(dop_loss(s, t, refined=s, weight=0.1)) == pytest.approx(0.1 * term)
    zero = clip([0.0, 0.0, 0.0])
    # MSE(S,0) = (0.04 + 0.25 + 0.81) / 3; D S vs 0: (0.09 + 0.16) / 2
    assert float(dop_loss(s, t, refined=zero, weight=0.1)) == pytest.approx(
        0.1 * (term + 1.1 / 3 + 0.125))
    # without the temporal terms: the plain mean-teacher MSE
    assert float(dop_loss(s, t, temporal=False)) == pytest.approx(0.05 / 3)
    # gradients reach the student only
    s = s.clone().requires_grad_(True)
    t = t.clone().requires_grad_(True)
    dop_loss(s, t).backward()
    assert s.grad is not None and t.grad is None
    with pytest.raises(ValueError, match='differ in shape'):
        dop_loss(clip([0.1, 0.2]), clip([0.1, 0.2, 0.3]))


def test_dop_ramp_is_the_published_exp_form():
    # w = exp(-5 (1 - e / R)^2), 1 from R on
    assert ramp_weight(0, 0, 10, 'sigmoid') == pytest.approx(math.exp(-5))
    assert ramp_weight(5, 0, 10, 'sigmoid') == pytest.approx(math.exp(-1.25))
    assert ramp_weight(12, 0, 10, 'sigmoid') == 1.0


def test_dice_loss_by_hand():
    onehot = torch.tensor([[[1.0, 0.0]], [[0.0, 1.0]]])[None]  # (1, C=2, 1, 2)
    assert float(dice_loss(onehot, onehot)) == pytest.approx(0.0)
    half = torch.full_like(onehot, 0.5)
    # each class: inter 0.5, sums 1 + 1: (2 * 0.5 + 1) / (2 + 1) = 2/3
    assert float(dice_loss(half, onehot)) == pytest.approx(1 / 3)
    assert float(dice_loss(half, onehot, smooth=0.0)) == pytest.approx(0.5)
    # an ignored pixel counts for nothing: only pixel 0 (class 0) is left
    valid = torch.tensor([1.0, 0.0]).view(1, 1, 1, 2)
    # class 0: inter 0.5, sums 0.5 + 1 -> 2/2.5; class 1: 0, 0.5 + 0 -> 1/1.5
    assert float(dice_loss(half, onehot, valid=valid)) == pytest.approx(
        1 - (2 / 2.5 + 1 / 1.5) / 2)


def test_mean_teacher_momentum_schedule():
    m = build_momentum_schedule(dict(type='mean_teacher', momentum_min=0.01))
    assert m(0) == 1.0 and m(1) == pytest.approx(0.5) and m(3) == pytest.approx(0.25)
    assert m(99) == pytest.approx(0.01) and m(10_000) == pytest.approx(0.01)


@pytest.mark.parametrize('temporal', [True, False])
def test_eor_starts_as_identity_and_learns_a_correction(temporal):
    torch.manual_seed(0)
    eor = ErrorRecoveryUNet(3, channels=8, temporal=temporal)
    labels = torch.randint(0, 3, (2, 4, 8, 8))
    # the "student" is right on 70% of pixels, and confidently wrong elsewhere
    wrong = torch.rand(labels.shape) < 0.3
    pred = torch.where(wrong, (labels + 1) % 3, labels)
    probs = torch.nn.functional.one_hot(pred, 3).permute(0, 1, 4, 2, 3).float() * 0.8 + 0.2 / 3
    torch.testing.assert_close(refine(eor, probs), probs, atol=1e-5, rtol=1e-4)
    assert refine(None, probs) is probs
    assert abs(float(eor_ce_gain(probs, eor(probs), labels))) < 1e-4  # identity: no gain
    opt = torch.optim.Adam(eor.parameters(), lr=1e-2)
    first = None
    for _ in range(30):
        loss = eor_loss(eor(probs), labels)
        first = first if first is not None else float(loss)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss) < first
    # by hand: CE of the student = -(0.7 log 0.8667 + 0.3 log 0.0667) over the drawn pixels
    p_right, p_wrong = 0.8 + 0.2 / 3, 0.2 / 3
    frac = float(wrong.float().mean())
    before = -((1 - frac) * math.log(p_right) + frac * math.log(p_wrong))
    after = float(torch.nn.functional.cross_entropy(
        eor(probs).reshape(-1, 3, 8, 8), labels.reshape(-1, 8, 8)))
    gain = float(eor_ce_gain(probs, eor(probs), labels))
    assert gain == pytest.approx(before - after, rel=1e-4) and gain > 0
    with pytest.raises(ValueError, match=r'\(B, T, 3, H, W\)'):
        eor(probs[:, :, :2])
    with pytest.raises(ValueError, match='do not match'):
        eor_loss(eor(probs), labels[:, :3])


class TwoPairs(BaseModel):
    """A real MMEngine model with the attributes StableTeacherHook updates."""

    def __init__(self):
        super().__init__()
        self.student = torch.nn.Linear(2, 1)
        self.teacher = torch.nn.Linear(2, 1)
        self.eor = torch.nn.Linear(1, 1)
        self.eor_teacher = torch.nn.Linear(1, 1)
        self.ema_teachers = ('teacher', 'eor_teacher')

    def forward(self, inputs, data_samples=None, mode='tensor'):
        x = torch.stack(inputs) if isinstance(inputs, list) else inputs
        out = self.eor(self.student(x))
        if mode == 'loss':
            return dict(loss=out.square().mean())
        return out


def TwoPairsInit():
    torch.manual_seed(0)
    return TwoPairs()


def _runner(work_dir, max_iters, resume=False):
    torch.manual_seed(0)  # the same initial model and data for every runner
    model = TwoPairs()
    data = [dict(inputs=x) for x in torch.randn(8, 2)]
    return Runner(
        model=model, work_dir=str(work_dir),
        train_dataloader=dict(dataset=data, batch_size=2,
                              sampler=dict(type='DefaultSampler', shuffle=False),
                              collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        custom_hooks=[dict(type='mtkit.StableTeacherHook')],
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=2, by_epoch=False),
                           logger=dict(type='LoggerHook', interval=1)),
        resume=resume, randomness=dict(seed=0), log_level='WARNING',
        # unique: MMEngine keys DefaultScope instances by it (see test_stable_teacher_configs)
        experiment_name=f'stable_hook_{osp.basename(str(work_dir))}_{max_iters}_{resume}')


@pytest.mark.slow
def test_hook_follows_the_ramp_and_resumes_exactly(tmp_path):
    import mtkit  # noqa: F401
    runner = _runner(tmp_path / 'a', 3)
    model = runner.model
    history = []

    from mmengine.hooks import Hook

    class Record(Hook):  # the student / eor after each step, to replay the EMA by hand

        def after_train_iter(self, runner, *a, **k):
            history.append([p.detach().clone() for p in
                            list(model.student.parameters()) + list(model.eor.parameters())])

    runner.register_hook(Record(), priority='LOWEST')
    runner.train()
    # step 0 copies (momentum 1); step 1: 0.5; step 2: 1/3
    teacher = history[0]
    for step, params in enumerate(history[1:], start=1):
        m = 1.0 / (step + 1)
        teacher = [(1 - m) * t + m * p for t, p in zip(teacher, params)]
    got = list(model.teacher.parameters()) + list(model.eor_teacher.parameters())
    for a, b in zip(got, teacher):
        torch.testing.assert_close(a.detach(), b)
    hook = [h for h in runner.hooks if type(h).__name__ == 'StableTeacherHook'][0]
    assert hook.step == 3
    # a longer run resumed from iteration 2 continues at step 2 and ends like one straight run
    straight = _runner(tmp_path / 'b', 4)
    straight.train()
    first = _runner(tmp_path / 'c', 2)
    first.train()
    saved = torch.load(tmp_path / 'c' / 'iter_2.pth', weights_only=False)['mtkit_stable_teacher']
    assert saved == dict(step=2, pairs=dict(teacher='student', eor_teacher='eor'),
                         schedule=dict(type='mean_teacher', momentum_min=0.01))
    resumed = _runner(tmp_path / 'c', 4, resume=True)
    resumed.train()
    for a, b in zip(resumed.model.teacher.parameters(), straight.model.teacher.parameters()):
        torch.testing.assert_close(a, b)
    # (and the teacher did move away from the student's initial weights)
    assert not torch.allclose(straight.model.teacher.weight, TwoPairsInit().student.weight)
    assert [h for h in resumed.hooks if type(h).__name__ == 'StableTeacherHook'][0].step == 4


@pytest.mark.slow
def test_hook_errors_name_the_problem(tmp_path):
    import mtkit  # noqa: F401
    with pytest.raises(ConfigKeyError, match='buffer_policy'):
        from mtkit.hooks import StableTeacherHook
        StableTeacherHook(buffer_policy='sometimes')
    runner = _runner(tmp_path / 'd', 1)
    runner._hooks = [h for h in runner.hooks if type(h).__name__ != 'StableTeacherHook']
    from mtkit.hooks import StableTeacherHook
    runner.register_hook(StableTeacherHook(pairs=dict(teacher='student')))
    with pytest.raises(ConfigKeyError, match=r"\['eor_teacher'\]"):
        runner.train()
