"""Task wrappers. Each needs its OpenMMLab package; when that package is absent, the wrapper's
name is still registered and building it raises an error that names what to install."""
from ..registry import MODELS, register
from ..utils.stack import StackError, installed_version, require, require_mmcv_ops


def _missing(name: str, dist: str) -> None:

    def builder(*args, **kwargs):
        require(dist, purpose=f'mtkit.{name}')  # raises StackError naming the fix
        raise StackError(f'mtkit.{name} could not be imported although {dist} is installed')

    builder.__name__ = name
    register(MODELS)(builder)


if installed_version('mmdet') is not None:
    require('mmdet')
    require_mmcv_ops('mmdet')
    from .det import MeanTeacherDetector  # noqa: F401
else:
    _missing('MeanTeacherDetector', 'mmdet')

if installed_version('mmsegmentation') is not None:
    require('mmsegmentation')
    from .seg import (DualTeacherStudentSegmentor, MeanTeacherSegmentor,  # noqa: F401
                      MultiBranchSegDataPreProcessor)
else:
    _missing('MeanTeacherSegmentor', 'mmsegmentation')
    _missing('DualTeacherStudentSegmentor', 'mmsegmentation')
    _missing('MultiBranchSegDataPreProcessor', 'mmsegmentation')

from .video import ClipSegDataPreProcessor, ErrorRecoveryUNet  # noqa: F401,E402 (pure torch)

if installed_version('mmsegmentation') is not None:
    from .video.stable_teacher_segmentor import StableMeanTeacherSegmentor  # noqa: F401
else:
    _missing('StableMeanTeacherSegmentor', 'mmsegmentation')
