"""DTS (dual teacher-student) for domain-adaptive segmentation on the tiny DigitScenes-UDA:
ClassMix's share of source classes, each pair's target proportion and pseudo-label teacher,
the pairs' EMA updates, exact resume, bad inputs."""
import copy
import glob
import os.path as osp

import pytest
import torch

from mtkit.augment import classmix_masks
from mtkit.utils.errors import ConfigKeyError

from conftest import REPO
from helpers import uda_batch, uda_cfg

DTS = osp.join(REPO, 'configs/uda/dts_fcn-r18w16-d8_digitscenes-uda.py')


def test_classmix_share_picks_ceil_share_of_the_present_classes():
    # image 0 has classes {0, 1, 2, 3}, image 1 has {4, 5, 6, 7, 8} and an ignored pixel
    labels = torch.tensor([[[0, 1, 2, 3, 3]], [[4, 5, 6, 7, 8]]])
    labels[1, 0, 0] = 255
    labels = torch.cat([labels, torch.tensor([[[0, 0, 1, 2, 3]], [[5, 6, 7, 8, 255]]])], 1)
    for share, n0, n1 in ((0.5, 2, 2), (0.25, 1, 1), (0.75, 3, 3), (1.0, 4, 4), (0.0, 0, 0),
                          (0.3, 2, 2)):  # ceil(0.3 * 4) = 2, ceil(0.3 * 4) = 2 (5..8)
        g = torch.Generator().manual_seed(1)
        m = classmix_masks(labels, 9, 255, g, share=share)
        for b, n in ((0, n0), (1, n1)):
            picked = labels[b][m[b]].unique().tolist()
            assert len(picked) == n, (share, b)
            for c in picked:  # every pixel of a picked class
                assert bool(m[b][labels[b] == c].all())
        assert not bool(m[labels == 255].any())
    g = torch.Generator().manual_seed(1)  # share 0.5 is ClassMix's ceil(n / 2)
    assert torch.equal(classmix_masks(labels, 9, 255, g),
                       classmix_masks(labels, 9, 255, torch.Generator().manual_seed(1), 0.5))
    with pytest.raises(ConfigKeyError, match=r'in \[0, 1\]'):
        classmix_masks(labels, 9, 255, share=1.5)


def _capture_losses(model, monkeypatch):
    """Record, per call of pseudo_label_ce, the labels and the source mask; and per student
    the input of its unlabeled forward."""
    import mtkit.models.seg.mean_teacher_segmentor as mts
    calls = []
    plain = mts.pseudo_label_ce

    def ce(logits, labels, keep, valid, weighting, exact=None):
        calls.append(dict(labels=labels, keep=keep, valid=valid, exact=exact))
        return plain(logits, labels, keep, valid, weighting, exact)
    monkeypatch.setattr(mts, 'pseudo_label_ce', ce)
    return calls


@pytest.mark.parametrize('mode', ['bidirectional', 'own'])
def test_dts_pairs_target_proportion_and_which_teacher_labels_which_student(
        digitscenes_uda, monkeypatch, mode):
    root, _ = digitscenes_uda
    cfg = uda_cfg(root, '/tmp/unused', path=DTS)
    cfg.model.semi_train_cfg.update(pseudo_thr=0.0, pseudo_labels=mode)
    model, data = uda_batch(cfg)
    with torch.no_grad():  # two teachers that disagree
        for p in model.teacher2.parameters():
            p.add_(torch.randn_like(p) * 0.5)
    calls = _capture_losses(model, monkeypatch)
    model.set_train_iter(3)
    batch = model.data_preprocessor(data, True)
    losses = model.loss(batch['inputs'], batch['data_samples'])
    assert {'unsup_loss_seg', 'unsup_pair2_loss_seg', 'sup_decode.loss_ce',
            'sup_pair2_decode.loss_ce'} <= set(losses)
    assert len(calls) == 2
    weak = batch['inputs']['weak']
    src_gt = torch.stack([s.gt_sem_seg.data[0] for s in batch['data_samples']['sup']]).long()
    valid = model.valid_mask(weak, batch['data_samples']['weak'])
    maps = {t: model.teacher_maps(t, weak)[1] for t in ('teacher', 'teacher2')}
    assert not torch.equal(maps['teacher'], maps['teacher2'])
    first, second = ('teacher2', 'teacher') if mode == 'bidirectional' else ('teacher', 'teacher2')
    expected_share = {}
    for call, teacher, share, key in ((calls[0], first, 0.5, 'pseudo/target_share'),
                                      (calls[1], second, 0.25, 'pseudo/pair2_target_share')):
        exact = call['exact']
        target = torch.where(valid, maps[teacher], torch.full_like(maps[teacher], 255))
        assert torch.equal(call['labels'], torch.where(exact, src_gt, target))
        for b in range(2):  # ceil(share * n) of the n source classes pasted
            present = src_gt[b][src_gt[b] != 255].unique().numel()
            picked = src_gt[b][exact[b]].unique().numel()
            assert picked == -(-present * int(share * 100) // 100), (key, b)
        expected_share[key] = ((valid & ~exact).sum() / (valid | exact).sum()).item()
    # the second pair's mixed images hold more target pixels; the logged shares are these
    scalars = model.pseudo_label_scalars()
    assert expected_share['pseudo/pair2_target_share'] > expected_share['pseudo/target_share']
    for key, value in expected_share.items():
        assert scalars[key] == pytest.approx(value)
    assert scalars['pseudo/kept_share'] == scalars['pseudo/pair2_kept_share'] == 1.0
    # both students get gradients from their losses, the teachers none
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    for name in ('student', 'student2'):
        assert getattr(model, name).decode_head.conv_seg.weight.grad.abs().sum() > 0
    for name in ('teacher', 'teacher2'):
        assert getattr(model, name).decode_head.conv_seg.weight.grad is None


def test_dts_target_labels_of_the_unlabeled_branch_never_reach_the_loss(digitscenes_uda):
    """The target train split's label maps are loaded for the pseudo-label accuracy only:
    without them the losses are the same to the last bit."""
    root, _ = digitscenes_uda
    cfg = uda_cfg(root, '/tmp/unused', path=DTS)
    cfg.model.semi_train_cfg.pseudo_thr = 0.0  # every target pixel trains
    model, data = uda_batch(cfg)
    model.set_train_iter(2)
    batch = model.data_preprocessor(data, True)
    torch.manual_seed(0)  # the decode head's dropout
    with_labels = model.loss(batch['inputs'], batch['data_samples'])
    assert 'pseudo/accuracy' in model.pseudo_label_scalars()
    model.update_train_cfg(diagnose_pseudo_labels=False)
    samples = copy.deepcopy(batch['data_samples'])
    for branch in ('weak', 'strong'):
        for s in samples[branch]:
            del s.gt_sem_seg
    torch.manual_seed(0)
    without = model.loss(batch['inputs'], samples)
    assert 'pseudo/accuracy' not in model.pseudo_label_scalars()
    for k in with_labels:
        assert torch.equal(with_labels[k], without[k]), k


def test_dts_bad_configs(digitscenes_uda):
    from mmengine.registry import DefaultScope

    from mtkit.registry import MODELS
    root, _ = digitscenes_uda
    for key, value, match in (('mix', 'classmix', "mix must be 'source_classmix'"),
                              ('second_classmix_share', 1.5, 'second_classmix_share'),
                              ('pseudo_labels', 'cross', 'pseudo_labels'),
                              ('oracle', True, 'single pair')):
        cfg = uda_cfg(root, '/tmp/unused', path=DTS)
        cfg.model.semi_train_cfg[key] = value
        with DefaultScope.overwrite_default_scope('mmseg'), pytest.raises(ConfigKeyError,
                                                                        match=match):
            MODELS.build(cfg.model)
    cfg = uda_cfg(root, '/tmp/unused', path=DTS)
    cfg.model.semi_test_cfg.predict_on = 'student3'
    with DefaultScope.overwrite_default_scope('mmseg'), pytest.raises(ConfigKeyError,
                                                                    match='student2'):
        MODELS.build(cfg.model)


def _states(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_dts_each_teacher_is_the_ema_of_its_student_and_resume_is_exact(digitscenes_uda,
                                                                         tmp_path):
    """One Runner iteration from train.py's config: teacher <- 0.999 teacher + 0.001 student
    for each pair (its own student); 2 iterations straight equal 1 + 1 resumed, all four
    models, each EMA hook's state in the checkpoint under its own key."""
    from mmengine.runner import Runner
    root, _ = digitscenes_uda

    def cfg_for(work_dir, iters):
        cfg = uda_cfg(root, str(work_dir), max_iters=iters, path=DTS)
        cfg.default_hooks.checkpoint.update(interval=1, max_keep_ckpts=-1)
        cfg.model.segmentor.decode_head.dropout_ratio = 0.0
        return cfg

    from mmengine.hooks import Hook
    start = {}

    class Start(Hook):  # the students' weights once initialised, before the first step
        def before_train(self, runner):
            start.update({n: _states(getattr(runner.model, n)) for n in ('student', 'student2')})
    runner = Runner.from_cfg(cfg_for(tmp_path / 'a', 2))
    runner.register_hook(Start(), priority='LOWEST')
    runner.train()
    assert not all(torch.equal(start['student'][k], start['student2'][k])
                   for k in start['student'] if start['student'][k].is_floating_point())
    ckpt1 = torch.load(tmp_path / 'a' / 'iter_1.pth', map_location='cpu', weights_only=True)
    assert ckpt1['mtkit_ema_teacher']['pairs'] == {'teacher': 'student'}
    assert ckpt1['mtkit_ema_teacher.teacher2']['pairs'] == {'teacher2': 'student2'}
    sd = ckpt1['state_dict']
    for teacher, student in (('teacher', 'student'), ('teacher2', 'student2')):
        name = 'decode_head.conv_seg.weight'
        expected = 0.999 * start[student][name] + 0.001 * sd[f'{student}.{name}']
        torch.testing.assert_close(sd[f'{teacher}.{name}'], expected, rtol=0, atol=1e-7)
        assert not torch.equal(sd[f'{teacher}.{name}'], sd[f'{student}.{name}'])
    runner = Runner.from_cfg(cfg_for(tmp_path / 'b', 1))
    runner.train()
    cfg = cfg_for(tmp_path / 'b', 2)
    cfg.resume = True
    Runner.from_cfg(cfg).train()
    a, b = (torch.load(tmp_path / d / 'iter_2.pth', map_location='cpu', weights_only=True)
            for d in ('a', 'b'))
    assert a['state_dict'].keys() == b['state_dict'].keys()
    for k in a['state_dict']:
        assert torch.equal(a['state_dict'][k], b['state_dict'][k]), k
    assert a['mtkit_ema_teacher.teacher2'] == b['mtkit_ema_teacher.teacher2']
    scalars = glob.glob(str(tmp_path / 'a' / '*' / 'vis_data' / 'scalars.json'))
    assert scalars
