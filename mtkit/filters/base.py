"""Base class and chain of pseudo-label filters.

A filter looks at a teacher's predictions for one image, given as an object with tensor
fields ``bboxes`` (N, 4, xyxy), ``scores`` (N,) and ``labels`` (N,) (mmdet's ``InstanceData``
or anything indexable the same way), and returns a boolean keep mask of shape (N,). The math
lives in pure functions next to each filter; the classes only hold configuration.
"""
from typing import Any, Dict, List, Sequence, Union

import torch
from torch import Tensor

from ..registry import PSEUDO_FILTERS
from ..utils.errors import ConfigKeyError


class PseudoLabelFilter:
    """A filter of one image's pseudo instances; subclasses implement :meth:`keep`."""

    def keep(self, instances: Any) -> Tensor:
        raise NotImplementedError

    def __call__(self, instances: Any) -> Any:
        return instances[self.keep(instances)]

    def __repr__(self) -> str:
        args = ', '.join(f'{k}={v!r}' for k, v in vars(self).items() if not k.startswith('_'))
        return f'{type(self).__name__}({args})'


def build_filter(cfg: Union[Dict[str, Any], PseudoLabelFilter]) -> PseudoLabelFilter:
    """Build one filter from ``dict(type=..., **kwargs)`` with an error naming bad keys."""
    if isinstance(cfg, PseudoLabelFilter):
        return cfg
    if not isinstance(cfg, dict) or 'type' not in cfg:
        raise TypeError(f'a pseudo-label filter config must be a dict with a "type" key, got '
                        f'{cfg!r}')
    cfg = dict(cfg)
    name = cfg.pop('type')
    cls = PSEUDO_FILTERS.get(name)
    if cls is None:
        raise ConfigKeyError(f'unknown pseudo-label filter type {name!r}; registered: '
                       f'{sorted(PSEUDO_FILTERS.module_dict)}')
    try:
        return cls(**cfg)
    except TypeError as e:
        import inspect
        expected = [p for p in inspect.signature(cls).parameters]
        raise TypeError(f'pseudo-label filter {name}: accepts {expected}, got {sorted(cfg)} '
                        f'({e})') from e


class FilterChain:
    """Filters applied in config order, each to the survivors of the previous one."""

    def __init__(self, filters: Sequence[Union[Dict[str, Any], PseudoLabelFilter]] = ()):
        self.filters: List[PseudoLabelFilter] = [build_filter(f) for f in filters]

    def __call__(self, instances: Any) -> Any:
        for f in self.filters:
            instances = f(instances)
        return instances

    def __len__(self) -> int:
        return len(self.filters)

    def __repr__(self) -> str:
        return f'FilterChain({self.filters!r})'


def as_threshold_tensor(thr: Union[float, Sequence[float]], name: str) -> Tensor:
    """A scalar or per-class threshold vector, checked to lie in [0, 1]."""
    t = torch.as_tensor(thr, dtype=torch.float32)
    if t.ndim > 1 or t.numel() == 0:
        raise ValueError(f'{name}: expected a float or a list of per-class floats, got {thr!r}')
    if bool(((t < 0) | (t > 1) | torch.isnan(t)).any()):
        raise ValueError(f'{name}: thresholds must lie in [0, 1], got {thr!r}')
    return t
