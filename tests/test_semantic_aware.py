"""Grounded Teacher's relational context and semantic-aware weights against hand-computed
values; the loss wrapper on mmdet's own classification losses; the matrix agrees across 2
gloo processes."""
import os.path as osp

import pytest
import torch
from mmdet.models.losses import CrossEntropyLoss, FocalLoss

from mtkit.losses.semantic_aware import (confusion_counts, confusion_rows,
                                         semantic_aware_weights, update_relation_,
                                         usable_relation)
from mtkit.models.det.relational_context import (RelationalContext, SemanticAwareClsLoss,
                                                 attached, check_relational_context)
from mtkit.utils.errors import ConfigKeyError

C = torch.tensor([[0.8, 0.2, 0.0], [0.5, 0.5, 0.0], [0.0, 0.0, 0.0]])
OBSERVED = torch.tensor([True, True, False])


def test_confusion_counts_rows_and_ema_by_hand():
    labels = torch.tensor([0, 0, 0, 1, 3, 2])
    preds = torch.tensor([0, 0, 1, 1, 0, 3])  # label 3 and prediction 3: background, left out
    counts = confusion_counts(labels, preds, 3)
    assert counts.tolist() == [[2, 1, 0], [0, 1, 0], [0, 0, 0]]
    rows, observed = confusion_rows(counts)
    assert rows[0].tolist() == pytest.approx([2 / 3, 1 / 3, 0])
    assert observed.tolist() == [True, True, False]
    m = C.clone()
    update_relation_(m, rows, observed, alpha=0.9)
    assert m[0].tolist() == pytest.approx([0.9 * 0.8 + 0.1 * 2 / 3, 0.9 * 0.2 + 0.1 / 3, 0])
    assert m[1].tolist() == pytest.approx([0.45, 0.55, 0])
    assert m[2].tolist() == [0, 0, 0]  # unobserved: unchanged
    with pytest.raises(ValueError, match='alpha'):
        update_relation_(m, rows, observed, alpha=1.0)


def test_usable_relation_fills_unobserved_rows_and_zeros():
    u = usable_relation(C, OBSERVED)
    assert u[2].tolist() == pytest.approx([1 / 3] * 3)  # unobserved: uniform
    assert u[0, 2].item() == pytest.approx(1e-3) and u[0, 0].item() == pytest.approx(0.8)


def test_semantic_aware_weights_by_hand():
    labels = torch.tensor([0, 0, 1, 2, 3])
    preds = torch.tensor([0, 1, 0, 2, 0])
    # raw: right 0 -> 1 - 0.8; wrong 0->1 -> C[0,1]; wrong 1->0 -> C[1,0]; right 2 (uniform
    # row) -> 1 - 1/3; label 3 is background (weight 1). Mean over the 4 objects: 0.391667
    raw = torch.tensor([0.2, 0.2, 0.5, 2 / 3])
    norm = raw / raw.mean()
    w = semantic_aware_weights(C, OBSERVED, labels, preds, reg=0.0)
    assert w.tolist() == pytest.approx(norm.tolist() + [1.0], rel=1e-5)
    w = semantic_aware_weights(C, OBSERVED, labels, preds, reg=1.0)
    assert w.tolist() == pytest.approx(((norm + 1) / 2).tolist() + [1.0], rel=1e-5)
    assert w[:4].tolist() == pytest.approx([0.75532, 0.75532, 1.13830, 1.35106], abs=1e-5)
    # 'diagonal': a wrong prediction weighs C[g, g]
    raw_d = torch.tensor([0.2, 0.8, 0.5, 2 / 3])
    w = semantic_aware_weights(C, OBSERVED, labels, preds, reg=0.0, variant='diagonal')
    assert w[:4].tolist() == pytest.approx((raw_d / raw_d.mean()).tolist(), rel=1e-5)
    # mixed objects keep weight 1 and leave the mean
    mixed = torch.tensor([False, False, False, True, False])
    w = semantic_aware_weights(C, OBSERVED, labels, preds, reg=0.0, mixed=mixed)
    assert w[3].item() == 1.0
    assert w[:3].tolist() == pytest.approx((raw[:3] / raw[:3].mean()).tolist(), rel=1e-5)
    # nothing in the foreground: all ones
    assert semantic_aware_weights(C, OBSERVED, torch.tensor([3]), torch.tensor([0])).tolist() \
        == [1.0]


def test_relational_context_config_errors():
    assert check_relational_context('x', None) is None
    assert check_relational_context('x', dict(alpha=0.5))['reg'] == 1.0
    for bad, match in ((dict(alpha=1.0), 'alpha'), (dict(reg=-1), 'reg'),
                       (dict(variant='row'), 'variant'), (dict(beta=1), 'unknown'),
                       ([1], 'expected None or a dict')):
        with pytest.raises(ConfigKeyError, match=match):
            check_relational_context('semi_train_cfg.relational_context', bad)


def test_wrapper_weights_mmdet_losses_and_passes_through_when_detached():
    torch.manual_seed(0)
    pred = torch.randn(4, 3)
    # YOLOX-style soft one-hot rows (one_hot * IoU); a background row of zeros
    target = torch.tensor([[0.9, 0, 0], [0, 0.7, 0], [0, 0, 0.8], [0, 0, 0]])
    bce = CrossEntropyLoss(use_sigmoid=True, reduction='sum')
    wrapped = SemanticAwareClsLoss(bce)
    assert torch.equal(wrapped(pred, target), bce(pred, target))  # nothing attached
    seen = {}

    def context(labels, preds, mixed):
        seen.update(labels=labels.tolist(), preds=preds.tolist(), mixed=mixed)
        return torch.tensor([2.0, 1.0, 0.5, 1.0])
    with attached(wrapped, context):
        out = wrapped(pred, target)
    assert seen == dict(labels=[0, 1, 2, 3], preds=pred.argmax(1).tolist(), mixed=None)
    expected = bce(pred, target, weight=torch.tensor([[2.0], [1.0], [0.5], [1.0]]))
    assert out.item() == pytest.approx(expected.item())
    assert wrapped.context is None
    # RetinaNet / FCOS style: integer labels, K = background, sample weights multiplied
    focal = FocalLoss(use_sigmoid=True, reduction='sum')
    labels = torch.tensor([0, 3, 2, 1])
    wrapped = SemanticAwareClsLoss(focal)
    with attached(wrapped, lambda lab, p, m: torch.tensor([2.0, 1.0, 3.0, 1.0])):
        out = wrapped(pred, labels, weight=torch.tensor([1.0, 0.5, 1.0, 1.0]))
    expected = focal(pred, labels, weight=torch.tensor([2.0, 0.5, 3.0, 1.0]))
    assert out.item() == pytest.approx(expected.item())
    with pytest.raises(ConfigKeyError, match='stateless'):
        SemanticAwareClsLoss(torch.nn.Linear(2, 2))


def test_relational_context_uses_the_step_start_matrix_then_commits():
    rcm = RelationalContext(3, alpha=0.5, reg=0.0)
    assert rcm.weights(torch.tensor([0, 1]), torch.tensor([0, 0])).tolist() == pytest.approx(
        [(1 - 1 / 3) / 0.5, (1 / 3) / 0.5])  # unfitted: uniform rows, mean 0.5
    rcm.weights(torch.tensor([0]), torch.tensor([1]))  # a second call in the same step
    rcm.commit()
    # counts row 0: [1, 1, 0], row 1: [1, 0, 0]; EMA from zeros with alpha 0.5
    torch.testing.assert_close(rcm.matrix, torch.tensor([[0.25, 0.25, 0], [0.5, 0, 0],
                                                         [0, 0, 0]]))
    assert rcm.observed.tolist() == [True, True, False]
    assert rcm.diagonal_mean().item() == pytest.approx(0.125)
    rcm.commit()  # a step without pairs leaves it as it is
    assert rcm.matrix[0].tolist() == pytest.approx([0.25, 0.25, 0])


def _rcm_worker(rank: int, world: int, init_file: str, out_dir: str) -> None:
    import datetime
    import json

    import torch.distributed as dist
    dist.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank,
                            world_size=world, timeout=datetime.timedelta(seconds=60))
    try:
        rcm = RelationalContext(3, alpha=0.5)
        if rank == 0:  # rank 1 has no pair at all, and still commits
            rcm.weights(torch.tensor([0, 0, 1]), torch.tensor([0, 1, 1]))
        rcm.commit()
        with open(osp.join(out_dir, f'rcm{rank}.json'), 'w') as f:
            json.dump(rcm.matrix.tolist(), f)
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_relation_matrix_is_the_same_on_every_rank(tmp_path):
    import json

    import torch.multiprocessing as mp
    mp.spawn(_rcm_worker, args=(2, str(tmp_path / 'init'), str(tmp_path)), nprocs=2)
    mats = [json.loads((tmp_path / f'rcm{r}.json').read_text()) for r in range(2)]
    assert mats[0] == mats[1]
    assert mats[0][0] == pytest.approx([0.25, 0.25, 0]) and mats[0][1] == [0, 0.5, 0]


# ---------------------------------------------------------------------------- augmentation
def test_mix_class_probs_by_hand():
    from mtkit.models.det.semantic_augmentation import mix_class_probs
    m = torch.tensor([[0.9, 0.1, 0.0], [0.6, 0.3, 0.1], [0.5, 0.2, 0.3]])
    seen = torch.ones(3, dtype=torch.bool)
    # class 0 is predicted best (0.9 > mean 0.5): draw among the classes taken for 0, C[:, 0]
    # without 0: (0.6, 0.5) -> (0.545, 0.455)
    assert mix_class_probs(m, seen, 0).tolist() == pytest.approx([0.0, 0.6 / 1.1, 0.5 / 1.1])
    assert mix_class_probs(m, seen, 1) is None  # 0.3 <= mean: a poorly predicted class


def test_mix_region_resizes_the_crop_and_mixes_with_its_weight():
    from mtkit.models.det.semantic_augmentation import mix_region_
    image = torch.zeros(3, 8, 8)
    crop = torch.full((3, 2, 2), 10.0)
    box = mix_region_(image, torch.tensor([2.0, 1.0, 6.0, 5.0]), crop, keep=0.25)
    assert box.tolist() == [2, 1, 6, 5]
    assert torch.allclose(image[:, 1:5, 2:6], torch.full((3, 4, 4), 7.5))  # 0.75 * 10
    assert image.sum().item() == pytest.approx(7.5 * 3 * 16)  # nothing outside the box


def _inst(boxes, labels, scores):
    from mmengine.structures import InstanceData
    return InstanceData(bboxes=torch.tensor(boxes, dtype=torch.float32),
                        labels=torch.tensor(labels), scores=torch.tensor(scores))


def test_semantic_augmentation_bank_mixing_and_state():
    from mtkit.models.det.semantic_augmentation import (SemanticAugmentation,
                                                        check_semantic_augmentation)
    sa = SemanticAugmentation(3, prob=1.0, bank_thr=0.8, bank_size=2, min_size=4)
    images = torch.arange(2 * 3 * 16 * 16, dtype=torch.float32).reshape(2, 3, 16, 16)
    # the bank: confident boxes of at least 4 px only, the newest bank_size per class
    sa.add(images, [_inst([[0, 0, 8, 8], [0, 0, 3, 3], [8, 8, 16, 16]], [1, 1, 2],
                          [0.9, 0.95, 0.5]),
                    _inst([[4, 4, 12, 12], [2, 2, 10, 10]], [1, 1], [0.85, 0.99])])
    assert sa.bank_sizes() == [0, 2, 0]
    assert torch.equal(sa.bank[1][-1], images[1, :, 2:10, 2:10])
    # class 0 is predicted best and class 1 is taken for it: its boxes get class-1 crops
    rcm = RelationalContext(3)
    rcm.matrix.copy_(torch.tensor([[0.9, 0.1, 0.0], [0.6, 0.3, 0.1], [0.5, 0.2, 0.3]]))
    rcm.observed.fill_(True)
    insts = [_inst([[0, 0, 8, 8], [8, 8, 16, 16]], [0, 1], [0.3, 0.3])]
    out_a, kept_a, n = sa(images[:1], insts, rcm, torch.Generator().manual_seed(0))
    assert n == 1 and kept_a[0].labels.tolist() == [1, 1]  # the class-1 box stays as it is
    w = kept_a[0].mix_weights
    assert 0.5 <= w[0].item() <= 1.0 and w[1].item() == 0.0  # the crop dominates
    assert not torch.equal(out_a[0, :, :8, :8], images[0, :, :8, :8])
    assert torch.equal(out_a[0, :, 8:, 8:], images[0, :, 8:, 8:])
    assert insts[0].labels.tolist() == [0, 1]  # the inputs are not modified
    # a confident box that is mixed enters the bank as it was before the mixing
    confident = [_inst([[0, 0, 8, 8]], [0], [0.9])]
    out_b, _, n = sa(images[:1], confident, rcm, torch.Generator().manual_seed(0))
    assert n == 1 and not torch.equal(out_b[0, :, :8, :8], images[0, :, :8, :8])
    assert torch.equal(sa.bank[0][-1], images[0, :, :8, :8])
    # the bank round-trips through a weights-only checkpoint
    import io
    buf = io.BytesIO()
    torch.save(sa.state_dict(), buf)
    buf.seek(0)
    restored = SemanticAugmentation(3, bank_size=2)
    restored.load_state_dict(torch.load(buf, weights_only=True))
    assert restored.bank_sizes() == sa.bank_sizes()
    assert all(torch.equal(a, b) for a, b in zip(restored.bank[1], sa.bank[1]))
    with pytest.raises(ConfigKeyError, match='bank_size'):
        check_semantic_augmentation('sa', dict(bank_size=0))
    with pytest.raises(ConfigKeyError, match='unknown'):
        check_semantic_augmentation('sa', dict(ratio=1))


def test_semantic_augmentation_draws_the_same_with_the_same_generator():
    from mtkit.models.det.semantic_augmentation import SemanticAugmentation
    images = torch.rand(1, 3, 16, 16)
    crops = [torch.rand(3, 4, 4) for _ in range(6)]
    results = []
    for _ in range(2):
        sa = SemanticAugmentation(3, prob=0.5, min_size=2)
        sa.bank[1].extend(crops[:3])
        sa.bank[2].extend(crops[3:])
        torch.manual_seed(len(results))  # the global RNG differs: it must not matter
        results.append(sa(images, [_inst([[0, 0, 8, 8], [8, 8, 16, 16], [2, 2, 9, 9]],
                                         [0, 0, 0], [0.3, 0.3, 0.3])], None,
                          torch.Generator().manual_seed(7)))
    assert results[0][2] > 0  # something was mixed
    assert torch.equal(results[0][0], results[1][0])
    assert torch.equal(results[0][1][0].labels, results[1][1][0].labels)


def test_plot_relation_tool(tmp_path, capsys):
    from tools import plot_relation
    state = {'relation.matrix': torch.tensor([[0.75, 0.25], [0.0, 0.0]]),
             'relation.observed': torch.tensor([True, False])}
    path = str(tmp_path / 'c.pth')
    torch.save(dict(state_dict=state, meta=dict(dataset_meta=dict(classes=['a', 'b']))), path)
    assert plot_relation.main([path, '--out', str(tmp_path / 'r.png')]) == 0
    out = capsys.readouterr().out
    assert 'a  0.75  0.25' in out and 'b  0.00  0.00  (never observed)' in out
    assert (tmp_path / 'r.png').stat().st_size > 0
    torch.save(dict(state_dict={}), path)
    with pytest.raises(SystemExit, match='has no relation.matrix'):
        plot_relation.main([path])


def test_mixed_objects_train_on_soft_labels_in_yolox():
    """YOLOX's positive locations of a mixed object get the soft label w * new + (1 - w) * old
    (times the IoU), the others their one-hot label; the sampler tells which is which."""
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmengine.structures import InstanceData

    from mtkit.models.det.relational_context import install_semantic_loss
    from mtkit.registry import MODELS
    cfg = Config.fromfile(osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))),
                                   'configs/sfod/mt_yolox-tiny_digitscenes-fog.py'))
    with DefaultScope.overwrite_default_scope('mmdet'):
        det = MODELS.build(cfg.model.detector)
    captured = []

    class Capture(torch.nn.Module):
        def forward(self, pred, target, weight=None, **kwargs):
            captured.append(target.detach().clone())
            return (pred * 0).sum()
    det.bbox_head.loss_cls = Capture()
    wrapper = install_semantic_loss(det, 'm')
    torch.manual_seed(0)
    x = det.extract_feat(torch.rand(1, 3, 64, 64) * 255)
    from mmdet.structures import DetDataSample
    sample = DetDataSample(metainfo=dict(img_shape=(64, 64), batch_input_shape=(64, 64),
                                         pad_shape=(64, 64)))
    sample.gt_instances = InstanceData(
        bboxes=torch.tensor([[4.0, 4.0, 30.0, 30.0], [34.0, 34.0, 60.0, 60.0]]),
        labels=torch.tensor([7, 2]), base_labels=torch.tensor([1, 2]),
        mix_weights=torch.tensor([0.6, 0.0]))
    with attached(wrapper):
        det.bbox_head.loss(x, [sample])
    target, = captured
    assert target.shape[0] > 0
    iou = target.sum(1)
    mixed_rows = target[:, 1] > 0
    assert mixed_rows.any() and (~mixed_rows).any()
    torch.testing.assert_close(target[mixed_rows][:, 7], 0.6 * iou[mixed_rows])
    torch.testing.assert_close(target[mixed_rows][:, 1], 0.4 * iou[mixed_rows])
    assert (target[~mixed_rows][:, 2] == iou[~mixed_rows]).all()
    captured.clear()
    det.bbox_head.loss(x, [sample])  # detached: the head's own one-hot targets
    assert (captured[0][:, 1] == 0).all()
