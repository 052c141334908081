"""One exception type for configuration mistakes: every enumerated setting is checked by
``check_choice`` and raises ``ConfigKeyError``, which ``except ValueError`` and
``except KeyError`` both catch; the message names the setting, the choices and the value."""
import numpy as np
import pytest
import torch

from mtkit.utils.errors import ConfigKeyError, check_choice


def test_config_key_error_is_a_value_error_and_a_key_error():
    with pytest.raises(ConfigKeyError) as info:
        check_choice('Thing.mode', 'c', ('a', 'b'))
    assert isinstance(info.value, ValueError) and isinstance(info.value, KeyError)
    assert str(info.value) == "Thing.mode must be one of ('a', 'b'), got 'c'"  # not a repr
    check_choice('Thing.mode', 'a', ('a', 'b'))  # a valid value passes


def _cases():
    from mtkit.augment.mix import mix_masks
    from mtkit.filters.consensus import ConsensusFilter, combine_scores
    from mtkit.filters.gmm_threshold import GMMThreshold
    from mtkit.hooks import DualTeacherHook, EMATeacherHook, StableTeacherHook
    from mtkit.losses.pixel import pseudo_label_ce
    from mtkit.losses.ramps import ramp_weight
    from mtkit.teachers.ema import build_ema_plan
    from mtkit.teachers.momentum import build_momentum_schedule
    from mtkit.generate.corruptions import corrupt
    from mtkit.tta.stream import run_stream
    net = torch.nn.Linear(2, 2)
    x = torch.zeros(1, 2, 2, 2)
    lab = torch.zeros(1, 2, 2, dtype=torch.long)
    ones = torch.ones(1, 2, 2, dtype=torch.bool)
    return {
        'ramp kind': lambda: ramp_weight(0, 0, 10, 'cosine'),
        'pseudo_label_ce weighting': lambda: pseudo_label_ce(x, lab, ones, ones, 'area'),
        'mix mode': lambda: mix_masks('mixup', lab, 2),
        'score rule': lambda: combine_scores(torch.ones(1), torch.ones(1), 'median'),
        'ConsensusFilter.score_rule': lambda: ConsensusFilter(score_rule='median'),
        'GMMThreshold.nonfinite': lambda: GMMThreshold(num_classes=2, nonfinite='ignore'),
        'buffer_policy': lambda: build_ema_plan(net, net, 'mean'),
        'EMATeacherHook.buffer_policy': lambda: EMATeacherHook(buffer_policy='mean'),
        'DualTeacherHook.buffer_policy': lambda: DualTeacherHook(buffer_policy='mean'),
        'StableTeacherHook.buffer_policy':
            lambda: StableTeacherHook(pairs=dict(teacher='student'), buffer_policy='mean'),
        'momentum schedule type': lambda: build_momentum_schedule(dict(type='cosine')),
        'corruption': lambda: corrupt(np.zeros((8, 8, 3), np.uint8), 'haze', 1),
        'run_stream setting': lambda: run_stream(None, [], setting='episodic'),
    }


@pytest.mark.parametrize('setting', list(_cases()))
def test_every_choice_mistake_is_a_config_key_error(setting):
    with pytest.raises(ConfigKeyError, match=f'^{setting} must be one of .*, got '):
        _cases()[setting]()
