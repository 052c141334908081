"""Registries of mtkit.

Every registry here has the scope ``mtkit`` and MMEngine's registry of the same kind as its
parent, so that any OpenMMLab 2.x project reaches mtkit's components with::

    custom_imports = dict(imports=['mtkit'], allow_failed_imports=False)
    model = dict(type='mtkit.MeanTeacherDetector', ...)   # scoped name, always unambiguous

A registry lookup without a scope (``type='EMATeacherHook'``) walks from the default scope
(``mmdet``, ``mmseg``) up to MMEngine's root, never sideways into ``mtkit``. So
:func:`register` also puts each component into the MMEngine root registry under its plain name
when, and only when, no other package registered that name there. mtkit's names are chosen not
to collide with mmdet's or mmseg's (a test checks this), so the plain name resolves to mtkit's
component from any default scope.
"""
from typing import Callable, Optional, Type

from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import Registry

SCOPE = 'mtkit'

HOOKS = Registry('hook', parent=MMENGINE_HOOKS, scope=SCOPE, locations=['mtkit.hooks'])
MODELS = Registry('model', parent=MMENGINE_MODELS, scope=SCOPE, locations=['mtkit.models'])
LOOPS = Registry('loop', parent=MMENGINE_LOOPS, scope=SCOPE, locations=['mtkit.engine'])
TRANSFORMS = Registry(
    'transform', parent=MMENGINE_TRANSFORMS, scope=SCOPE, locations=['mtkit.datasets'])
DATASETS = Registry(
    'dataset', parent=MMENGINE_DATASETS, scope=SCOPE, locations=['mtkit.datasets'])
DATA_SAMPLERS = Registry(
    'data sampler', parent=MMENGINE_DATA_SAMPLERS, scope=SCOPE, locations=['mtkit.datasets'])
METRICS = Registry(
    'metric', parent=MMENGINE_METRICS, scope=SCOPE, locations=['mtkit.evaluation'])

#: Pseudo-label filters (pure components, built by the task wrappers).
PSEUDO_FILTERS = Registry('pseudo label filter', scope=SCOPE, locations=['mtkit.filters'])


def register(registry: Registry, name: Optional[str] = None) -> Callable[[Type], Type]:
    """Register a class in an mtkit registry and, if the name is free, in MMEngine's root.

    Args:
        registry: One of the registries of this module.
        name: Registered name. Defaults to the class name.

    Returns:
        A class decorator.
    """

    def decorator(cls: Type) -> Type:
        key = name or cls.__name__
        registry.register_module(name=key, module=cls)
        root = registry.parent
        if root is not None and key not in root.module_dict:
            root.register_module(name=key, module=cls)
        return cls

    return decorator
