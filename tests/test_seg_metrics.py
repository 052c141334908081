"""mtkit.ForegroundIoUMetric: mmseg's mIoU, and the foreground-only mIoU beside it, by hand and
against mmseg's IoUMetric."""
import pytest
import torch
from mmseg.evaluation import IoUMetric

from mtkit.evaluation import ForegroundIoUMetric, mean_iou
from mtkit.registry import METRICS


def sample(pred, gt):
    return dict(pred_sem_seg=dict(data=torch.tensor(pred)[None]),
                gt_sem_seg=dict(data=torch.tensor(gt)[None]))


def test_mean_iou_exclude_by_hand():
    inter, union = torch.tensor([8., 1., 0., 0.]), torch.tensor([10., 4., 2., 0.])
    assert mean_iou(inter, union) == pytest.approx(100 * (0.8 + 0.25 + 0.0) / 3)
    assert mean_iou(inter, union, exclude=[0]) == pytest.approx(100 * 0.25 / 2)
    assert torch.equal(union, torch.tensor([10., 4., 2., 0.]))  # not modified in place
    assert mean_iou(inter, union, empty=-1.0, exclude=[0, 1, 2]) == -1.0


def test_foreground_iou_by_hand():
    metric = METRICS.build(dict(type='ForegroundIoUMetric', background_classes=[0],
                                num_classes=3))
    # all-background prediction: background IoU 6/8, digits 0
    metric.process(None, [sample([[0, 0, 0, 0], [0, 0, 0, 0]], [[0, 0, 1, 1], [0, 0, 0, 0]]),
                          sample([[0, 0, 0, 0], [0, 0, 0, 0]], [[0, 0, 0, 0], [0, 2, 0, 255]])])
    res = metric.compute_metrics(metric.results)
    assert res['mIoU'] == pytest.approx(100 * (12 / 15) / 3)
    assert res['fg_mIoU'] == 0.0


def test_foreground_iou_matches_mmseg():
    g = torch.Generator().manual_seed(0)
    samples = []
    for _ in range(3):
        gt = torch.randint(0, 5, (16, 16), generator=g)
        gt[0, :4] = 255
        pred = torch.where(torch.rand(16, 16, generator=g) < 0.6, gt.clamp(max=4),
                           torch.randint(0, 5, (16, 16), generator=g))
        samples.append(sample(pred.tolist(), gt.tolist()))
    ours = ForegroundIoUMetric(background_classes=[0])
    ours.dataset_meta = dict(classes=tuple('abcde'))
    ref = IoUMetric(iou_metrics=['mIoU'])
    ref.dataset_meta = dict(classes=tuple('abcde'))
    ours.process(None, samples)
    ref.process(None, samples)
    res, res_ref = ours.compute_metrics(ours.results), ref.compute_metrics(ref.results)
    assert res['mIoU'] == pytest.approx(res_ref['mIoU'], abs=0.005)  # mmseg rounds to 0.01
    inter = sum(r[0] for r in ref.results)[1:].double()
    union = sum(r[1] for r in ref.results)[1:].double()
    assert res['fg_mIoU'] == pytest.approx(100 * float((inter / union).mean()))


def test_background_class_out_of_range_is_an_error():
    metric = ForegroundIoUMetric(background_classes=[11], num_classes=11)
    with pytest.raises(ValueError, match=r'background_classes \[11\] are not class indices of '
                                         r'a 11-class dataset \(expected 0..10\)'):
        metric.process(None, [sample([[0]], [[0]])])


def test_per_class_iou_by_hand_and_names_checked():
    """per_class=True: IoU.{name} per class, nan for a class in neither labels nor
    predictions; the dataset meta must name every class."""
    from mtkit.utils.errors import ConfigKeyError
    metric = ForegroundIoUMetric(background_classes=[0], num_classes=4, per_class=True)
    metric.dataset_meta = dict(classes=('bg', 'one', 'two', 'three'))
    # bg: inter 5, union 7; one: inter 1, union 2; two: inter 0, union 1; three: absent
    metric.process(None, [sample([[0, 0, 0, 1], [0, 0, 0, 2]], [[0, 0, 1, 1], [0, 0, 0, 0]])])
    res = metric.compute_metrics(metric.results)
    assert res['IoU.bg'] == pytest.approx(100 * 5 / 7)
    assert res['IoU.one'] == pytest.approx(50.0)
    assert res['IoU.two'] == 0.0
    assert res['IoU.three'] != res['IoU.three']  # nan
    assert res['fg_mIoU'] == pytest.approx((50.0 + 0.0) / 2)
    assert 'IoU.bg' not in ForegroundIoUMetric(
        background_classes=[0], num_classes=4).compute_metrics(metric.results)
    metric.dataset_meta = dict(classes=('bg', 'one'))
    with pytest.raises(ConfigKeyError, match=r"per_class needs the dataset meta to name each "
                                             r"of the 4 classes; it names 2: \['bg', 'one'\]"):
        metric.compute_metrics(metric.results)
