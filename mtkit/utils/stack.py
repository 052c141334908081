"""Checks that the OpenMMLab stack mtkit runs on is installed in compatible versions."""
from importlib import metadata
from typing import Dict, Optional, Tuple

from mmengine.utils import digit_version

SETUP_HINT = 'run `bash scripts/setup_env.sh` (or `make test`) from the mtkit checkout'

#: distribution -> (import name, min version inclusive, max version exclusive, fix)
REQUIREMENTS: Dict[str, Tuple[str, str, str, str]] = {
    'mmengine': ('mmengine', '0.10.0', '1.0.0', "pip install 'mmengine==0.10.7'"),
    'mmcv': ('mmcv', '2.0.0rc4', '2.2.0',
             f'mmcv 2.1.0 must be built from source with ops: {SETUP_HINT}'),
    'mmdet': ('mmdet', '3.0.0', '4.0.0', "pip install 'mmdet==3.3.0' (or pip install -e .[det])"),
    'mmsegmentation': ('mmseg', '1.0.0', '2.0.0',
                       "pip install 'mmsegmentation==1.2.2' ftfy regex (or pip install -e .[seg])"),
}


class StackError(ImportError):
    """A required OpenMMLab package is missing or has an incompatible version."""


def installed_version(dist: str) -> Optional[str]:
    """Installed version of a distribution, or None."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def check_version(dist: str, found: Optional[str], purpose: str = 'mtkit') -> str:
    """Raise :class:`StackError` unless ``found`` satisfies mtkit's range for ``dist``."""
    _, lo, hi, fix = REQUIREMENTS[dist]
    if found is None:
        raise StackError(f'{purpose} needs {dist}>={lo},<{hi}, which is not installed. Fix: {fix}')
    if not digit_version(lo) <= digit_version(found) < digit_version(hi):
        raise StackError(f'{purpose} needs {dist}>={lo},<{hi}, found {dist}=={found}. Fix: {fix}')
    return found


def require(dist: str, purpose: str = 'mtkit') -> str:
    """Check an installed distribution; returns its version."""
    return check_version(dist, installed_version(dist), purpose)


def require_mmcv_ops(purpose: str = 'mtkit') -> None:
    """Check that mmcv's compiled ops load against the installed torch."""
    require('mmcv', purpose)
    try:
        from mmcv.ops import nms  # noqa: F401
    except (ImportError, OSError) as e:
        import torch
        raise StackError(
            f'{purpose} needs mmcv.ops (mmcv built with MMCV_WITH_OPS=1 against torch '
            f'{torch.__version__}), but they do not load: {e}. A wheel built for another torch '
            f'fails like this. Fix: {SETUP_HINT}, which rebuilds mmcv from source.') from e
