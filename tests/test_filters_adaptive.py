"""Batch-level filters: GMM threshold module, score-sum pre-filter, NMS, consensus, diagnostics."""
import pytest
import torch
from mmengine.structures import InstanceData

from mtkit.filters import (ClassQuantileThreshold, ConsensusFilter, FilterChain, GMMThreshold,
                           NMSFilter, ScoreSumTopK, build_filter, class_quantiles,
                           consensus_boxes, consensus_dense, gmm_thresholds, score_sum_topk_mask)
from mtkit.filters.diagnostics import (CLASS_COUNTS, PseudoLabelStats, class_agreement_counts,
                                      class_pixel_keys, pixel_scalars, precision_recall,
                                      pseudo_label_matches, score_matches, score_pr_counts)
from mtkit.utils.errors import ConfigKeyError


def inst(boxes, scores, labels):
    return InstanceData(bboxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
                        scores=torch.tensor(scores, dtype=torch.float32),
                        labels=torch.tensor(labels, dtype=torch.long))


def test_score_sum_topk_hand_computed():
    # sum = 2.2 -> k = round(2.2) = 2 -> keep scores >= sorted[2] = 0.4 (three boxes)
    s = torch.tensor([0.1, 0.9, 0.4, 0.2, 0.6])
    assert score_sum_topk_mask(s).tolist() == [False, True, True, False, True]
    # sum = 0.5 -> round half up -> k = 1 -> keep the two best
    assert score_sum_topk_mask(torch.tensor([0.3, 0.1, 0.1])).tolist() == [True, True, True]
    assert score_sum_topk_mask(torch.tensor([0.25, 0.2, 0.05])).tolist() == [True, True, False]
    # k is capped at n - 1: everything kept; empty stays empty
    assert score_sum_topk_mask(torch.tensor([0.99, 0.98])).tolist() == [True, True]
    assert score_sum_topk_mask(torch.zeros(0)).tolist() == []
    # ratio scales the sum: 0.5 * 2.2 = 1.1 -> k = 1
    assert score_sum_topk_mask(s, 0.5).tolist() == [False, True, False, False, True]
    with pytest.raises(ValueError, match='ScoreSumTopK.ratio'):
        ScoreSumTopK(ratio=0)


def test_nms_filter_classwise_and_agnostic():
    i = inst([[0, 0, 10, 10], [1, 1, 10, 10], [0, 0, 10, 10], [20, 20, 30, 30]],
             [0.9, 0.8, 0.7, 0.6], [0, 0, 1, 1])
    assert NMSFilter(0.5).keep(i).tolist() == [True, False, True, True]
    assert NMSFilter(0.5, class_agnostic=True).keep(i).tolist() == [True, False, False, True]
    assert NMSFilter(0.5).keep(i[torch.zeros(4, dtype=torch.bool)]).tolist() == []


def test_consensus_boxes_hand_computed():
    a = inst([[0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50]], [0.8, 0.6, 0.9], [1, 2, 3])
    # b: same class 1, IoU 0.81 with a[0]; class 5 on a[1] (other class); nothing at a[2]
    b = inst([[1, 1, 10, 10], [20, 20, 30, 30]], [0.4, 0.9], [1, 5])
    keep, scores, boxes = consensus_boxes(a.bboxes, a.labels, a.scores, b.bboxes, b.labels,
                                          b.scores, 0.5, 'mean')
    assert keep.tolist() == [True, False, False]
    assert scores[0].item() == pytest.approx(0.6)
    assert boxes is a.bboxes  # box_rule 'first': the first teacher's boxes
    keep, _, _ = consensus_boxes(a.bboxes, a.labels, a.scores, b.bboxes, b.labels, b.scores, 0.9)
    assert keep.tolist() == [False, False, False]  # IoU 0.81 < 0.9
    out, = ConsensusFilter(0.5, 'min')([a], dict(second=[b]))
    assert out.labels.tolist() == [1] and out.scores.tolist() == pytest.approx([0.4])
    assert len(ConsensusFilter()([a], dict(second=[b[:0]]))[0]) == 0


def test_consensus_second_thr_hand_computed():
    # a0 has two same-class partners in b: b0 (IoU 1, score 0.3) and b1 (IoU 0.81, score 0.7)
    a = inst([[0, 0, 10, 10], [20, 20, 30, 30]], [0.9, 0.8], [1, 2])
    b = inst([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]], [0.3, 0.7, 0.4], [1, 1, 2])
    keep, scores, _ = consensus_boxes(a.bboxes, a.labels, a.scores, b.bboxes, b.labels,
                                      b.scores, 0.5, 'min')
    assert keep.tolist() == [True, True] and scores.tolist() == pytest.approx([0.3, 0.4])
    # with second_thr 0.5 b0 and b2 are no partners: a0 pairs with b1, a1 with nothing
    keep, scores, _ = consensus_boxes(a.bboxes, a.labels, a.scores, b.bboxes, b.labels,
                                      b.scores, 0.5, 'min', second_thr=0.5)
    assert keep.tolist() == [True, False] and scores.tolist() == pytest.approx([0.7, 0.8])
    out, = ConsensusFilter(0.5, 'min', second_thr=0.5)([a], dict(second=[b]))
    assert out.labels.tolist() == [1] and out.scores.tolist() == pytest.approx([0.7])
    with pytest.raises(ConfigKeyError, match='ConsensusFilter.second_thr'):
        ConsensusFilter(second_thr=1.5)


def test_consensus_weighted_box_fusion_hand_computed():
    # PETS' consensus: agreed pairs fused with their scores as weights
    a = inst([[0, 0, 10, 10], [20, 20, 30, 30], [50, 50, 60, 60]], [0.6, 0.8, 0.7], [1, 2, 3])
    b = inst([[2, 0, 12, 10], [21, 21, 31, 31], [0, 0, 4, 4]], [0.2, 0.8, 0.9], [1, 2, 1])
    keep, scores, boxes = consensus_boxes(a.bboxes, a.labels, a.scores, b.bboxes, b.labels,
                                          b.scores, 0.5, 'mean', 'weighted')
    # a0-b0: IoU 80 / 120 = 0.667, fused x = (0.6 * 0 + 0.2 * 2) / 0.8 = 0.5, x2 = 10.5
    # a1-b1: IoU 81 / 119 = 0.68, equal weights: the midpoint; a2: no partner (b2 IoU 0)
    assert keep.tolist() == [True, True, False]
    torch.testing.assert_close(boxes, torch.tensor([[0.5, 0.0, 10.5, 10.0],
                                                    [20.5, 20.5, 30.5, 30.5],
                                                    [50.0, 50.0, 60.0, 60.0]]))
    assert scores.tolist() == pytest.approx([0.4, 0.8, 0.7])
    out, = ConsensusFilter(0.5, box_rule='weighted')([a], dict(second=[b]))
    torch.testing.assert_close(out.bboxes, torch.tensor([[0.5, 0.0, 10.5, 10.0],
                                                         [20.5, 20.5, 30.5, 30.5]]))
    assert a.bboxes[0].tolist() == [0, 0, 10, 10]  # the input is not modified
    with pytest.raises(ConfigKeyError, match='box_rule'):
        ConsensusFilter(box_rule='average')


def test_consensus_dense_is_the_intersection_of_confidence_maps():
    sa = torch.tensor([[0.9, 0.95], [0.5, 0.99]])
    la = torch.tensor([[1, 2], [1, 0]])
    sb = torch.tensor([[0.97, 0.96], [0.99, 0.2]])
    lb = torch.tensor([[1, 3], [1, 0]])
    keep, scores = consensus_dense(sa, la, sb, lb, thr=0.8)
    assert keep.tolist() == [[True, False], [False, False]]
    assert scores[0, 0].item() == pytest.approx(0.935)
    chain = FilterChain([dict(type='ConsensusFilter', dense_thr=0.8)])
    assert torch.equal(chain.dense(sa, la, dict(second=(sb, lb))), keep)


def test_chain_names_a_missing_second_teacher():
    chain = FilterChain([dict(type='ConsensusFilter')])
    assert chain.requires == ['second']
    with pytest.raises(KeyError, match=r"ConsensusFilter needs \['second'\]"):
        chain([inst([[0, 0, 1, 1]], [0.9], [0])])
    with pytest.raises(KeyError, match=r"unknown key\(s\) \['iou'\]"):
        build_filter(dict(type='ConsensusFilter', iou=0.5))
    with pytest.raises(ValueError, match='score_rule'):
        ConsensusFilter(score_rule='sum')
    # the scoped spelling works too
    assert isinstance(build_filter(dict(type='mtkit.GMMThreshold', num_classes=2)), GMMThreshold)


def test_gmm_threshold_module_queue_and_thresholds():
    f = GMMThreshold(num_classes=3, queue_size=10, fallback=0.7)
    g = torch.Generator().manual_seed(0)
    batch = []
    for _ in range(2):
        s = torch.cat([torch.rand(6, generator=g) * 0.3, 0.8 + torch.rand(4, generator=g) * 0.2])
        batch.append(inst(torch.rand(10, 4).tolist(), s.tolist(), [0] * 10))
    out = f(batch)
    # class 0 got 20 scores, the queue keeps the 10 newest in batch order
    all_scores = torch.cat([b.scores for b in batch])
    assert torch.equal(f.queue[0], all_scores[:10])
    assert torch.equal(f.queue[1:], torch.zeros(2, 10))
    expected = gmm_thresholds(f.queue, fallback=0.7)
    assert torch.equal(f.current, expected)
    assert f.current[1].item() == pytest.approx(0.7)  # a class never seen: fallback
    assert 0.8 <= f.current[0].item() <= 1.0
    for b, o in zip(batch, out):
        assert torch.equal(o.scores, b.scores[b.scores >= f.current[0]])
    # state travels in the state_dict (hence in checkpoints) and restores exactly
    g2 = GMMThreshold(num_classes=3, queue_size=10, fallback=0.7)
    g2.load_state_dict(f.state_dict())
    assert torch.equal(g2.queue, f.queue) and torch.equal(g2.current, f.current)
    assert sorted(f.state_dict()) == ['current', 'nonfinite_count', 'queue']


def test_gmm_threshold_nonfinite_scores():
    ctx = {'iter': 123}  # the model passes its iteration in the filter context
    bad = inst([[0, 0, 5, 5]] * 3, [0.9, float('nan'), float('inf')], [0, 2, 1])
    with pytest.raises(FloatingPointError, match=r'2 non-finite teacher score\(s\) at iteration '
                       r'123 in class\(es\) \[1, 2\]'):
        GMMThreshold(num_classes=3)([bad], ctx)
    f = GMMThreshold(num_classes=3, nonfinite='skip', fallback=0.5)
    out, = f([bad])
    assert out.scores.tolist() == pytest.approx([0.9])  # non-finite boxes dropped
    assert f.nonfinite_count.tolist() == [0, 1, 1]
    assert torch.equal(f.queue[1:], torch.zeros(2, 100))  # and never queued
    with pytest.raises(ValueError, match=r"num_classes=3, but the teacher predicted label\(s\) "
                       r'\[7\] at iteration 123'):
        f([inst([[0, 0, 5, 5]], [0.9], [7])], ctx)


def test_gmm_threshold_empty_batch_and_config_errors():
    f = GMMThreshold(num_classes=2)
    out = f([inst([], [], []), inst([], [], [])])
    assert [len(o) for o in out] == [0, 0]
    assert f.current.tolist() == [0.5, 0.5]
    with pytest.raises(ValueError, match='GMMThreshold.policy'):
        GMMThreshold(num_classes=2, policy='low')
    with pytest.raises(ValueError, match='GMMThreshold.num_classes'):
        GMMThreshold(num_classes=0)
    with pytest.raises(ValueError, match='GMMThreshold.nonfinite'):
        GMMThreshold(num_classes=2, nonfinite='ignore')


def test_gmm_threshold_dense_maps():
    torch.manual_seed(0)
    scores = torch.cat([torch.rand(2, 8, 8) * 0.4, 0.8 + torch.rand(2, 8, 8) * 0.2], 1)
    labels = torch.zeros(2, 16, 8, dtype=torch.long)
    f = GMMThreshold(num_classes=2, queue_size=50, dense_samples=20)
    keep = FilterChain([f]).dense(scores, labels)
    assert keep.shape == scores.shape
    assert int((f.queue[0] > 0).sum()) == 20  # at most dense_samples pixels per step
    assert torch.equal(keep, scores >= f.current[0])
    assert 0.4 < f.current[0].item() <= 1.0


def test_pseudo_label_matches_and_stats():
    pred = torch.tensor([[0, 0, 10, 10], [20, 20, 30, 30], [0, 0, 10, 10.]])
    gt = torch.tensor([[1, 1, 10, 10], [50, 50, 60, 60.]])
    counts = pseudo_label_matches(pred, torch.tensor([1, 1, 2]), gt, torch.tensor([1, 1]))
    # pred 0 matches gt 0 (IoU .81, same class); pred 2 overlaps but has the wrong class
    assert counts.tolist() == [3, 1, 2, 1]
    assert pseudo_label_matches(pred[:0], torch.zeros(0), gt, torch.tensor([1, 1])).tolist() \
        == [0, 0, 2, 0]
    stats = PseudoLabelStats()
    stats.add(dict(images=torch.tensor(2.), pseudo=torch.tensor(3.)))
    stats.add(dict(images=torch.tensor(2.), pseudo=torch.tensor(1.), gt=counts[2]))
    out = stats.pop()
    assert out['images'] == 4 and out['pseudo'] == 4 and out['gt'] == 2
    assert stats.pop() == {}


def test_class_agreement_by_hand():
    # teacher labels of one 2x4 image (255 = ignore), the student's agreement, the valid mask
    plabel = torch.tensor([[[0, 0, 0, 0], [0, 1, 1, 255]]])
    agree = torch.tensor([[[1, 1, 1, 1], [1, 0, 1, 0]]], dtype=torch.bool)
    valid = torch.tensor([[[1, 1, 1, 1], [1, 1, 1, 0]]], dtype=torch.bool)
    counts = class_agreement_counts(plabel, agree, valid, 3)
    # class 0: 5 pixels, 5 agreed; class 1: 2 pixels, 1 agreed; class 2: none (label_c0..2,
    # then agree_c0..2, the order of class_pixel_keys)
    assert counts.tolist() == [5, 2, 0, 5, 1, 0]
    stats = PseudoLabelStats(('raw', 'agree'), blocks={CLASS_COUNTS: class_pixel_keys(3)})
    stats.add(dict(raw=valid.sum(), agree=(agree & valid).sum(), **{CLASS_COUNTS: counts}))
    stats.add(dict(raw=valid.sum()))  # a step without the block adds zeros to its keys
    sums = stats.pop()
    assert [sums[k] for k in class_pixel_keys(3)] == [5, 2, 0, 5, 1, 0] and sums['raw'] == 14
    stats.add(dict(raw=valid.sum(), agree=(agree & valid).sum(), **{CLASS_COUNTS: counts}))
    out = pixel_scalars(stats.pop())
    # pixel agreement 6/7, dominated by class 0; class-mean (1 + 0.5) / 2 over the labelled ones
    assert out['pseudo/agreement'] == pytest.approx(6 / 7)
    assert out['pseudo/class_agreement'] == pytest.approx(0.75)
    with pytest.raises(ValueError, match="'class_counts' takes 6 value"):
        stats.add({CLASS_COUNTS: counts[:4]})
    with pytest.raises(KeyError, match=r"unknown statistic\(s\) \['label_c0'\]"):
        stats.add(dict(label_c0=torch.tensor(1.)))
    with pytest.raises(ValueError, match='named twice'):
        PseudoLabelStats(('raw', 'label_c0'), blocks={CLASS_COUNTS: class_pixel_keys(3)})


def test_score_pr_counts_by_hand():
    # image: gt 0 (class 1) at [0, 0, 10, 10], gt 1 (class 0) at [50, 50, 60, 60]
    pred = torch.tensor([[0, 0, 10, 10], [1, 1, 10, 10], [0, 0, 10, 10.], [50, 50, 60, 60],
                         [80, 80, 90, 90]])
    labels = torch.tensor([1, 1, 2, 0, 0])
    scores = torch.tensor([0.9, 0.4, 0.8, 0.3, 0.6])
    gt = torch.tensor([[0, 0, 10, 10], [50, 50, 60, 60.]])
    gt_labels = torch.tensor([1, 0])
    correct, best = score_matches(pred, labels, gt, gt_labels, scores)
    # preds 0 and 1 cover gt 0 (same class), pred 2 has the wrong class, pred 3 covers gt 1,
    # pred 4 overlaps nothing; each gt's best matching score: 0.9 and 0.3
    assert correct.tolist() == [True, True, False, True, False]
    assert best.tolist() == pytest.approx([0.9, 0.3])
    counts = score_pr_counts(scores, labels, correct, best, gt_labels,
                             torch.tensor([0.25, 0.5, 0.95]), num_classes=3)
    # class 0: boxes 0.3 (right), 0.6 (wrong); class 1: 0.9, 0.4 (both right); class 2: 0.8
    assert counts['kept'].tolist() == [[2, 1, 0], [2, 1, 0], [1, 1, 0]]
    assert counts['kept_correct'].tolist() == [[1, 0, 0], [2, 1, 0], [0, 0, 0]]
    assert counts['found'].tolist() == [[1, 0, 0], [1, 1, 0], [0, 0, 0]]
    assert counts['gt'].tolist() == [1, 1, 0]
    p, r = precision_recall(counts)
    assert p[0, :2].tolist() == [0.5, 0.0] and torch.isnan(p[0, 2])  # nothing kept at 0.95
    assert r[1].tolist() == [1.0, 1.0, 0.0] and torch.isnan(r[2]).all()
    p_all, r_all = precision_recall(counts, per_class=False)
    assert p_all.tolist()[:2] == pytest.approx([3 / 5, 1 / 3]) and torch.isnan(p_all[2])
    assert r_all.tolist() == pytest.approx([1.0, 0.5, 0.0])
    # the training-time definition at one threshold is the same count
    keep = scores >= 0.5
    assert pseudo_label_matches(pred[keep], labels[keep], gt, gt_labels).tolist() == \
        [3, 1, 2, 1]
    # no boxes, or no ground truth
    c0, b0 = score_matches(pred[:0], labels[:0], gt, gt_labels, scores[:0])
    assert c0.tolist() == [] and b0.tolist() == [-float('inf')] * 2
    c1, b1 = score_matches(pred, labels, gt[:0], gt_labels[:0], scores)
    assert not c1.any() and b1.numel() == 0


def test_class_quantiles_by_hand_and_against_torch():
    scores = torch.tensor([0.9, 0.2, 0.6, 0.99, 0.3, 0.8, 0.7])
    labels = torch.tensor([0, 1, 0, 0, 1, 2, 0])
    count = torch.tensor([True, True, True, True, True, True, False])  # the 0.7 does not
    q, n = class_quantiles(scores, labels, count, 4, 0.5)
    # class 0: 0.6, 0.9, 0.99 -> index floor(0.5 * 2) = 1: 0.9; class 1: 0.2, 0.3 -> index 0
    assert n.tolist() == [3, 2, 1, 0]
    assert q.tolist() == pytest.approx([0.9, 0.2, 0.8, 0.0])
    g = torch.Generator().manual_seed(0)
    s = torch.rand(5, 40, 40, generator=g)
    lab = torch.randint(0, 7, (5, 40, 40), generator=g)
    keep = torch.rand(5, 40, 40, generator=g) < 0.7
    for quant in (0.0, 0.25, 0.5, 1.0):
        q, n = class_quantiles(s, lab, keep, 7, quant)
        for c in range(7):
            v = s[keep & (lab == c)]
            assert int(n[c]) == v.numel()
            ref = torch.quantile(v.double(), quant, interpolation='lower')
            assert float(q[c]) == pytest.approx(float(ref), abs=1e-6)


def test_class_quantile_threshold_dense_running_and_clamped():
    f = build_filter(dict(type='ClassQuantileThreshold', num_classes=3, quantile=0.5,
                          momentum=0.5, init=0.95, floor=0.5, ceiling=0.9))
    scores = torch.tensor([[0.99, 0.98, 0.97, 0.6, 0.7, 0.8]])
    labels = torch.tensor([[0, 0, 0, 1, 1, 1]])
    keep = FilterChain([f]).dense(scores, labels)
    # class 0: median 0.98 -> 0.95 + 0.5 (0.98 - 0.95) = 0.965, clamped to 0.9;
    # class 1: median 0.7 -> 0.825; class 2 absent: stays 0.95 -> 0.9
    assert f.thr.tolist() == pytest.approx([0.965, 0.825, 0.95])
    assert f.thresholds().tolist() == pytest.approx([0.9, 0.825, 0.9])
    assert keep.tolist() == [[True, True, True, False, False, False]]
    f.eval()  # applied, not updated
    keep = f.keep_dense(torch.tensor([0.83]), torch.tensor([1]), torch.ones(1, dtype=torch.bool))
    assert keep.tolist() == [True] and f.thr.tolist() == pytest.approx([0.965, 0.825, 0.95])
    assert 'thr' in f.state_dict()


def test_class_quantile_threshold_instances_and_errors():
    f = ClassQuantileThreshold(num_classes=2, quantile=0.0, momentum=1.0, floor=0.0,
                               ceiling=1.0)
    out = f.filter_batch([inst([[0, 0, 4, 4]] * 2, [0.3, 0.6], [0, 1]),
                          inst([[0, 0, 4, 4]] * 2, [0.5, 0.9], [0, 1])])
    # quantile 0 = each class's minimum: class 0 0.3, class 1 0.6: every box kept
    assert f.thr.tolist() == pytest.approx([0.3, 0.6]) and [len(o) for o in out] == [2, 2]
    assert f.filter_batch([]) == []
    with pytest.raises(ValueError, match=r'ClassQuantileThreshold.quantile: expected a value in '
                                         r'\[0, 1\], got 1.5'):
        ClassQuantileThreshold(num_classes=2, quantile=1.5)
    with pytest.raises(ValueError, match='floor 0.9 is above ceiling 0.5'):
        ClassQuantileThreshold(num_classes=2, floor=0.9, ceiling=0.5)
    with pytest.raises(ValueError, match='momentum'):
        ClassQuantileThreshold(num_classes=2, momentum=0.0)
