"""Pure cores of semi-supervised segmentation: mixing masks, the pixel pseudo-label loss and
the switching-teacher schedule, against hand-computed values."""
import math

import pytest
import torch
import torch.nn.functional as F

from mtkit.augment import apply_mix, classmix_masks, cutmix_masks, mix_masks
from mtkit.losses import pseudo_label_ce
from mtkit.teachers.momentum import build_momentum_schedule
from mtkit.teachers.switching import switching_state


def test_cutmix_masks_are_one_box_of_the_requested_area():
    g = torch.Generator().manual_seed(0)
    m = cutmix_masks(64, 40, 60, area=(0.1, 0.3), ratio=(0.5, 2.0), generator=g)
    assert m.shape == (64, 40, 60) and m.dtype == torch.bool
    for mask in m:
        ys, xs = torch.nonzero(mask, as_tuple=True)
        h = int(ys.max() - ys.min() + 1)
        w = int(xs.max() - xs.min() + 1)
        assert int(mask.sum()) == h * w  # one solid box
        # rounding and clipping move the area a little beyond the sampled range
        assert 0.07 <= h * w / (40 * 60) <= 0.36
    again = cutmix_masks(64, 40, 60, area=(0.1, 0.3), ratio=(0.5, 2.0),
                         generator=torch.Generator().manual_seed(0))
    assert torch.equal(m, again)  # deterministic for a seed
    with pytest.raises(ValueError, match='cutmix area'):
        cutmix_masks(1, 4, 4, area=(0.5, 0.2))


def test_classmix_picks_half_the_present_classes_and_never_ignore():
    labels = torch.tensor([[[0, 0, 1, 1],
                            [2, 2, 3, 255]],
                           [[5, 5, 5, 5],
                            [255, 255, 5, 5]]])
    for seed in range(20):
        m = classmix_masks(labels, num_classes=6, generator=torch.Generator().manual_seed(seed))
        picked0 = set(labels[0][m[0]].tolist())
        assert len(picked0) == 2 and picked0 <= {0, 1, 2, 3}  # ceil(4 / 2) of 4 classes
        # the mask is exactly the pixels of the picked classes
        assert torch.equal(m[0], torch.isin(labels[0], torch.tensor(sorted(picked0))))
        assert torch.equal(m[1], labels[1] == 5)  # ceil(1 / 2) = 1: the only class
        assert not m[labels == 255].any()
    empty = classmix_masks(torch.full((1, 2, 2), 255), num_classes=3)
    assert not empty.any()


def test_apply_mix_pastes_the_source_image_region_into_every_tensor():
    img = torch.arange(2 * 3 * 2 * 2, dtype=torch.float).view(2, 3, 2, 2)
    lab = torch.tensor([[[1, 1], [1, 1]], [[2, 2], [2, 2]]])
    mask = torch.tensor([[[True, False], [False, False]], [[False, False], [False, True]]])
    perm = torch.tensor([1, 0])
    out_img, out_lab = apply_mix(mask, perm, img, lab)
    assert out_lab.tolist() == [[[2, 1], [1, 1]], [[2, 2], [2, 1]]]
    assert torch.equal(out_img[0, :, 0, 0], img[1, :, 0, 0])
    assert torch.equal(out_img[0, :, 1, 1], img[0, :, 1, 1])
    assert torch.equal(out_img[1, :, 1, 1], img[0, :, 1, 1])
    assert mix_masks(None, lab, 3) is None
    with pytest.raises(ValueError, match='mix mode'):
        mix_masks('mixup', lab, 3)


def _case():
    logits = torch.tensor([[[[2.0, 0.0]], [[0.0, 1.0]]],      # image 0: 2 classes, 1x2 px
                           [[[0.5, 0.0]], [[0.0, 0.0]]]])     # image 1
    labels = torch.tensor([[[0, 1]], [[1, 0]]])
    keep = torch.tensor([[[True, False]], [[False, False]]])
    valid = torch.tensor([[[True, True]], [[True, False]]])
    return logits, labels, keep, valid


def test_pseudo_label_ce_mask_weighting_by_hand():
    logits, labels, keep, valid = _case()
    ce00 = math.log(1 + math.exp(-2.0))  # image 0, pixel 0, label 0
    # kept: only (0, 0); valid pixels: 3
    assert pseudo_label_ce(logits, labels, keep, valid, 'mask').item() == pytest.approx(ce00 / 3)


def test_pseudo_label_ce_fraction_weighting_by_hand():
    logits, labels, keep, valid = _case()
    ce00 = math.log(1 + math.exp(-2.0))
    ce01 = math.log(1 + math.exp(-1.0))  # label 1 with logits (0, 1)
    # image 0: q = 1/2 over 2 valid pixels; image 1 has no confident pixel: q = 0
    want = 0.5 * (ce00 + ce01) / 3
    got = pseudo_label_ce(logits, labels, keep, valid, 'fraction')
    assert got.item() == pytest.approx(want)
    ref = F.cross_entropy(logits, labels, reduction='none')
    assert ref[0, 0, 0].item() == pytest.approx(ce00)


def test_pseudo_label_ce_exact_source_pixels_weigh_one_by_hand():
    # domain adaptation: image 0's pixel 1 is a mixed-in source pixel (ground truth label 1)
    logits, labels, keep, valid = _case()
    exact = torch.tensor([[[False, True]], [[False, False]]])
    ce00 = math.log(1 + math.exp(-2.0))
    ce01 = math.log(1 + math.exp(-1.0))
    ce10 = math.log(1 + math.exp(-0.5))  # image 1, pixel 0, label 1 with logits (0.5, 0)
    # image 0: its one pseudo pixel is confident (q = 1/1), the source pixel weighs 1;
    # image 1: q = 0 over its one valid pixel; 3 valid pixels in all
    got = pseudo_label_ce(logits, labels, keep, valid, 'fraction', exact=exact)
    assert got.item() == pytest.approx((1.0 * ce00 + ce01) / 3)
    assert ce10 > 0  # image 1's pixel is valid but weighs q = 0
    # 'mask': the source pixel counts as kept
    got = pseudo_label_ce(logits, labels, keep, valid, 'mask', exact=exact)
    assert got.item() == pytest.approx((ce00 + ce01) / 3)
    # no exact pixel: the plain weighting
    none = torch.zeros_like(exact)
    assert pseudo_label_ce(logits, labels, keep, valid, 'fraction', exact=none).item() == \
        pytest.approx(pseudo_label_ce(logits, labels, keep, valid, 'fraction').item())


def test_pseudo_label_ce_class_balanced_by_hand():
    # 1 image, 2 classes, 4 valid pixels; kept: three of class 0 (CE a each) and one of class 1
    logits = torch.tensor([[[[2.0, 2.0], [2.0, 0.0]], [[0.0, 0.0], [0.0, 3.0]]]])
    labels = torch.tensor([[[0, 0], [0, 1]]])
    keep = torch.ones(1, 2, 2, dtype=torch.bool)
    valid = keep.clone()
    a, b = math.log(1 + math.exp(-2.0)), math.log(1 + math.exp(-3.0))
    assert pseudo_label_ce(logits, labels, keep, valid, 'mask').item() == pytest.approx(
        (3 * a + b) / 4)
    # each class weighs the same: (a + b) / 2, times the kept share 4 / 4
    assert pseudo_label_ce(logits, labels, keep, valid, 'class_balanced').item() == \
        pytest.approx((a + b) / 2)
    # one class kept: equal to 'mask'; kept share 2 / 4
    keep2 = torch.tensor([[[True, True], [False, False]]])
    assert pseudo_label_ce(logits, labels, keep2, valid, 'class_balanced').item() == \
        pytest.approx(pseudo_label_ce(logits, labels, keep2, valid, 'mask').item())
    assert pseudo_label_ce(logits, labels, keep2, valid, 'mask').item() == pytest.approx(
        2 * a / 4)


def test_pseudo_label_ce_is_zero_without_confident_pixels_and_keeps_the_graph():
    logits, labels, _, valid = _case()
    logits.requires_grad_(True)
    for weighting in ('mask', 'fraction', 'class_balanced'):
        loss = pseudo_label_ce(logits, labels, torch.zeros_like(valid), valid, weighting)
        assert loss.item() == 0.0
        loss.backward()
        assert logits.grad is not None and torch.all(logits.grad == 0)
    # ignore / padding pixels never count, whatever their label value
    labels_bad = labels.clone()
    labels_bad[1, 0, 1] = 255
    a = pseudo_label_ce(logits, labels_bad, valid, valid)
    b = pseudo_label_ce(logits, labels, valid, valid)
    assert a.item() == pytest.approx(b.item())
    with pytest.raises(ValueError, match='weighting'):
        pseudo_label_ce(logits, labels, valid, valid, 'soft')


def test_switching_schedule_and_restart_ramp():
    # interval 3, 2 teachers: iterations 0-2 teacher 0, 3-5 teacher 1, 6-8 teacher 0 again
    assert [switching_state(i, 3, 2)[1] for i in range(9)] == [0, 0, 0, 1, 1, 1, 0, 0, 0]
    assert switching_state(7, 3, 2) == (2, 0, 1)
    # each turn restarts the one mean-teacher ramp (DualTeacherHook and StableTeacherHook use
    # it): momentum = max(1/(i+1), momentum_min), the papers' 1 - min(1 - 1/(i+1), alpha_max)
    ramp = build_momentum_schedule(dict(type='mean_teacher', momentum_min=0.01))
    assert ramp(0) == 1.0  # restart: copy of the student
    assert ramp(1) == pytest.approx(0.5)
    assert ramp(3) == pytest.approx(0.25)
    assert ramp(98) == pytest.approx(1 / 99)
    assert ramp(99) == pytest.approx(0.01)
    assert ramp(10_000) == pytest.approx(0.01)
    assert build_momentum_schedule(dict(type='mean_teacher', momentum_min=0.5))(5) == \
        pytest.approx(0.5)
    with pytest.raises(ValueError):
        switching_state(0, 0, 2)
    with pytest.raises(ValueError, match='momentum_min must be in'):
        build_momentum_schedule(dict(type='mean_teacher', momentum_min=1.5))
    with pytest.raises(KeyError, match=r"unknown key\(s\) \['alpha_max'\]"):  # one convention
        build_momentum_schedule(dict(type='mean_teacher', alpha_max=0.99))


def test_numpy_in1d_is_back_for_cityscapesscripts():
    import numpy as np

    import mtkit  # noqa: F401  (restores np.in1d where numpy removed it)
    a = np.array([[1, 2], [3, 4]])
    assert np.in1d(a, [2, 3]).tolist() == [False, True, True, False]
    assert np.in1d(a, [2, 3], invert=True).tolist() == [True, False, False, True]
