"""mtkit: semi-supervised mean-teacher toolkit for OpenMMLab 2.x.

``import mtkit`` (or ``custom_imports=dict(imports=['mtkit'])`` in a config) registers every
component in the ``mtkit`` registries, makes MMEngine checkpoints load under torch >= 2.6,
writes them atomically (names a damaged one when read), and lets mmseg's CityscapesMetric run
under numpy >= 2.4.
"""
from .utils.stack import require

require('mmengine')

from .utils.checkpoint import allow_mmengine_checkpoints  # noqa: E402

allow_mmengine_checkpoints()

from .utils.safe_io import install_safe_checkpoint_io  # noqa: E402

install_safe_checkpoint_io()  # atomic local writes; damaged checkpoints named when read

from .utils.compat import restore_numpy_in1d  # noqa: E402

restore_numpy_in1d()  # mmseg's CityscapesMetric (cityscapesscripts) under numpy >= 2.4

from . import (augment, datasets, engine, evaluation, filters, hooks,  # noqa: E402,F401
               losses, models, registry, teachers, tta)
from .version import __version__  # noqa: E402

__all__ = ['__version__', 'engine', 'filters', 'hooks', 'losses', 'models', 'registry',
           'teachers']
