"""Compatibility of third-party evaluation code with the stack's numpy 2.x."""
import numpy as np


def _in1d(ar1, ar2, assume_unique: bool = False, invert: bool = False, **kwargs):
    """numpy < 2.4's ``in1d``: ``isin`` of the flattened ``ar1``."""
    return np.isin(np.ravel(ar1), ar2, assume_unique=assume_unique, invert=invert, **kwargs)


def restore_numpy_in1d() -> bool:
    """numpy 2.4 removed ``np.in1d``, which cityscapesscripts 2.3 (mmseg's CityscapesMetric)
    still calls. Put back an equivalent if it is missing; returns True if it did."""
    try:
        np.in1d  # noqa: B018
        return False
    except AttributeError:
        np.in1d = _in1d
        return True
