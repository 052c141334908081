"""Stack version checks and the weights_only checkpoint allowlist."""
import io
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer

from mtkit.utils.checkpoint import history_buffer_statistic
from mtkit.utils.stack import StackError, check_version, require, require_mmcv_ops


def test_installed_stack_passes():
    assert require('mmcv').startswith('2.1')
    assert require('mmdet') == '3.3.0'
    assert require('mmsegmentation') == '1.2.2'
    require_mmcv_ops()


def test_missing_and_mismatched_versions_name_the_fix():
    with pytest.raises(StackError, match=r"needs mmdet>=3.0.0,<4.0.0, which is not installed. "
                       r"Fix: pip install 'mmdet==3.3.0'"):
        check_version('mmdet', None)
    with pytest.raises(StackError, match=r'found mmcv==2.2.0\. Fix: mmcv 2.1.0 must be built '
                       'from source'):
        check_version('mmcv', '2.2.0')
    with pytest.raises(StackError, match='found mmsegmentation==0.30.0'):
        check_version('mmsegmentation', '0.30.0')
    assert check_version('mmcv', '2.1.0') == '2.1.0'


def test_history_buffer_round_trip_under_weights_only():
    buf = HistoryBuffer()
    buf.update(1.5)
    buf.update(np.float64(2.5))
    state = dict(message_hub=dict(log_scalars=dict(loss=buf)), best=np.float64(0.25),
                 arr=np.arange(3, dtype=np.int64), w=torch.ones(2))
    f = io.BytesIO()
    torch.save(state, f)
    f.seek(0)
    out = torch.load(f, weights_only=True)
    assert out['message_hub']['log_scalars']['loss'].mean() == pytest.approx(2.0)
    assert out['best'] == 0.25 and out['arr'].tolist() == [0, 1, 2]


class _Evil:
    def __reduce__(self):
        return (getattr, (HistoryBuffer, '__init__'))


def test_restricted_getattr_refuses_other_attributes():
    with pytest.raises(pickle.UnpicklingError, match='refusing getattr'):
        history_buffer_statistic(HistoryBuffer, '__init__')
    with pytest.raises(pickle.UnpicklingError, match='refusing getattr'):
        history_buffer_statistic(torch, 'load')
    f = io.BytesIO()
    torch.save(dict(x=_Evil()), f)
    f.seek(0)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(f, weights_only=True)
