"""Pseudo-label filters (score threshold, box size, chain) and loss-weight ramps."""
import math

import pytest
import torch
from mmengine.structures import InstanceData

from mtkit.filters import (FilterChain, MinBoxSize, ScoreThreshold, build_filter,
                           min_box_size_mask, score_threshold_mask)
from mtkit.losses import ramp_weight


def _inst():
    return InstanceData(
        bboxes=torch.tensor([[0., 0., 10., 10.], [0., 0., 1., 5.], [5., 5., 30., 9.],
                             [0., 0., 3., 3.]]),
        scores=torch.tensor([0.9, 0.95, 0.4, 0.6]),
        labels=torch.tensor([0, 1, 2, 1]))


def test_score_threshold_global_and_per_class():
    i = _inst()
    assert score_threshold_mask(i.scores, i.labels, torch.tensor(0.6)).tolist() == [
        True, True, False, True]
    per_class = torch.tensor([0.95, 0.5, 0.3])
    assert score_threshold_mask(i.scores, i.labels, per_class).tolist() == [
        False, True, True, True]
    with pytest.raises(ValueError, match='3 per-class thresholds given, but a prediction has '
                       'label 5'):
        score_threshold_mask(i.scores, torch.tensor([0, 5, 1, 1]), per_class)


def test_min_box_size():
    i = _inst()
    assert min_box_size_mask(i.bboxes, (2, 2)).tolist() == [True, False, True, True]
    assert min_box_size_mask(i.bboxes, (4, 5)).tolist() == [True, False, False, False]


def test_chain_applies_in_order():
    chain = FilterChain([dict(type='ScoreThreshold', thr=0.5), dict(type='MinBoxSize',
                                                                       min_size=2)])
    out, = chain([_inst()])
    assert out.scores.tolist() == pytest.approx([0.9, 0.6])
    assert len(FilterChain([])([_inst()])[0]) == 4
    empty, full = chain([_inst()[torch.zeros(4, dtype=torch.bool)], _inst()])
    assert len(empty) == 0 and len(full) == 2


def test_filter_config_errors():
    with pytest.raises(KeyError, match="unknown pseudo-label filter type 'Threshold'"):
        build_filter(dict(type='Threshold'))
    with pytest.raises(KeyError, match=r"unknown key\(s\) \['threshold'\]; it accepts "
                       r"\['thr'\]"):
        build_filter(dict(type='ScoreThreshold', threshold=0.3))
    with pytest.raises(ValueError, match=r'must lie in \[0, 1\]'):
        ScoreThreshold(thr=[0.5, 1.2])
    with pytest.raises(ValueError, match='MinBoxSize.min_size'):
        MinBoxSize(min_size=(1, 2, 3))
    with pytest.raises(KeyError, match='"type" key'):
        build_filter(['ScoreThreshold'])


def test_ramps():
    assert ramp_weight(5, burn_in=10) == 0.0
    assert ramp_weight(10, burn_in=10) == 1.0
    assert ramp_weight(15, burn_in=10, ramp_iters=10) == 0.5
    assert ramp_weight(30, burn_in=10, ramp_iters=10) == 1.0
    assert ramp_weight(15, 10, 10, 'sigmoid') == pytest.approx(math.exp(-5 * 0.25))
    assert ramp_weight(15, 10, 10, 'step') == 1.0
    with pytest.raises(ValueError, match='ramp kind'):
        ramp_weight(0, kind='cosine')
