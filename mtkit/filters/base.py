"""Base class and chain of pseudo-label filters.

Two kinds of pseudo labels are filtered:

* **instances** (detection): per image an object with tensor fields ``bboxes`` (N, 4, xyxy),
  ``scores`` (N,) and ``labels`` (N,) -- mmdet's ``InstanceData`` or anything indexable the
  same way. A chain takes the list of a batch's images, so a filter can look at the whole
  batch (the GMM threshold does) before deciding per image.
* **dense maps** (segmentation): ``scores`` and ``labels`` of any shape, e.g. (B, H, W); a
  filter returns a boolean keep mask of the same shape.

Filters are ``nn.Module`` s so that stateful ones (score queues) live in the model's
``state_dict`` and therefore in checkpoints; stateless ones hold only configuration. The math
lives in pure functions next to each filter.
"""
from typing import Any, Dict, List, Optional, Sequence, Union

import torch
from torch import Tensor, nn

from ..registry import PSEUDO_FILTERS
from ..utils.device import take
from ..utils.errors import ConfigKeyError, check_kwargs

Context = Optional[Dict[str, Any]]


class PseudoLabelFilter(nn.Module):
    """A pseudo-label filter.

    Subclasses implement :meth:`keep` (per-image instance mask) and, when the filter makes
    sense for dense maps, :meth:`keep_dense`; a filter that needs the whole batch overrides
    :meth:`filter_batch`.
    """

    #: Names of the ``context`` entries the filter needs (e.g. a second teacher's output).
    requires: Sequence[str] = ()
    #: :meth:`keep` decides each instance on its own fields alone (no state, no batch, no
    #: other instance): a chain then ANDs the masks of consecutive such filters and indexes
    #: each image once.
    elementwise: bool = False

    def keep(self, instances: Any) -> Tensor:
        """(N,) bool mask of the instances of one image to keep."""
        raise NotImplementedError(f'{type(self).__name__} does not filter instances')

    def filter_batch(self, batch: List[Any], context: Context = None) -> List[Any]:
        """Filter every image of a batch; ``context`` carries extra inputs some filters need."""
        return [take(inst, self.keep(inst)) for inst in batch]

    def keep_dense(self, scores: Tensor, labels: Tensor, mask: Tensor,
                   context: Context = None) -> Tensor:
        """Keep mask for dense pseudo labels, given the mask of the previous filters."""
        raise NotImplementedError(f'{type(self).__name__} does not apply to dense (per-pixel) '
                                  f'pseudo labels')

    def thresholds(self) -> Optional[Tensor]:
        """Current per-class (C,) or global () score threshold, for diagnostics; None if the
        filter has none."""
        return None

    def class_counts(self) -> Dict[str, int]:
        """The sizes this filter has per class (``{'per-class thresholds': C}``, and
        ``{'num_classes': C}`` for filters configured with it), checked against the model's
        number of classes when the model is built."""
        out = {}
        thr = self.thresholds()
        if thr is not None and thr.ndim == 1:
            out['per-class thresholds'] = int(thr.numel())
        if isinstance(getattr(self, 'num_classes', None), int):
            out['num_classes'] = self.num_classes
        return out

    def forward(self, batch: List[Any], context: Context = None) -> List[Any]:
        return self.filter_batch(batch, context)

    def extra_repr(self) -> str:
        return ', '.join(f'{k}={v!r}' for k, v in vars(self).items()
                         if not k.startswith('_') and k != 'training')


def build_filter(cfg: Union[Dict[str, Any], PseudoLabelFilter]) -> PseudoLabelFilter:
    """Build one filter from ``dict(type=..., **kwargs)`` with an error naming bad keys."""
    if isinstance(cfg, PseudoLabelFilter):
        return cfg
    if not isinstance(cfg, dict) or 'type' not in cfg:
        raise ConfigKeyError(f'a pseudo-label filter config must be a dict with a "type" key, '
                             f'got {cfg!r}')
    cfg = dict(cfg)
    name = cfg.pop('type')
    if isinstance(name, str) and name.startswith('mtkit.'):
        name = name[len('mtkit.'):]
    cls = PSEUDO_FILTERS.get(name)
    if cls is None:
        raise ConfigKeyError(f'unknown pseudo-label filter type {name!r}; registered: '
                             f'{sorted(PSEUDO_FILTERS.module_dict)}')
    check_kwargs(f'pseudo-label filter {name}', cls, cfg)
    return cls(**cfg)


class FilterChain(nn.Module):
    """Filters applied in config order, each to the survivors of the previous one."""

    def __init__(self, filters: Sequence[Union[Dict[str, Any], PseudoLabelFilter]] = ()):
        super().__init__()
        self.filters = nn.ModuleList([build_filter(f) for f in filters])

    @property
    def requires(self) -> List[str]:
        return sorted({r for f in self.filters for r in f.requires})

    def forward(self, batch: List[Any], context: Context = None) -> List[Any]:
        """Filter a batch (list of per-image instances). A run of consecutive
        :attr:`~PseudoLabelFilter.elementwise` filters is one AND of their masks and one
        gather per image: the same survivors as applying them one after the other."""
        context = context or {}
        run: List[PseudoLabelFilter] = []
        for f in self.filters:
            missing = [r for r in f.requires if r not in context]
            if missing:
                raise ConfigKeyError(
                    f'pseudo-label filter {type(f).__name__} needs {missing}, which this model '
                    f'does not provide (it provides {sorted(context)})')
            if f.elementwise:
                run.append(f)
                continue
            batch = self._apply_elementwise(run, batch)
            run = []
            batch = f.filter_batch(batch, context)
        return self._apply_elementwise(run, batch)

    @staticmethod
    def _apply_elementwise(run: List[PseudoLabelFilter], batch: List[Any]) -> List[Any]:
        if not run:
            return batch
        out = []
        for inst in batch:
            mask = run[0].keep(inst)
            for f in run[1:]:
                mask = mask & f.keep(inst)
            out.append(take(inst, mask))
        return out

    def dense(self, scores: Tensor, labels: Tensor, context: Context = None) -> Tensor:
        """Keep mask of dense pseudo labels (any shape): all filters must keep a pixel."""
        mask = torch.ones_like(scores, dtype=torch.bool)
        for f in self.filters:
            mask = mask & f.keep_dense(scores, labels, mask, context)
        return mask

    def check_num_classes(self, num_classes: int, owner: str) -> None:
        """Raise :class:`ConfigKeyError` at build time when a filter's per-class sizes (a
        per-class ``thr`` list, ``num_classes``) differ from the model's ``num_classes``;
        ``owner`` names the config key (otherwise it fails only once pseudo labels flow)."""
        for i, f in enumerate(self.filters):
            bad = {k: v for k, v in f.class_counts().items() if v != num_classes}
            if bad:
                found = ', '.join(f'{v} {k}' for k, v in bad.items())
                raise ConfigKeyError(f'{owner}[{i}] ({type(f).__name__}) has {found}, but the '
                                     f'model predicts {num_classes} classes: give one value '
                                     f'per class, or a single float')

    def thresholds(self) -> Dict[str, Tensor]:
        """``{'<index>.<FilterName>': thresholds}`` of the filters that have thresholds."""
        out = {}
        for i, f in enumerate(self.filters):
            t = f.thresholds()
            if t is not None:
                out[f'{i}.{type(f).__name__}'] = t
        return out

    def __len__(self) -> int:
        return len(self.filters)

    @classmethod
    def for_model(cls, owner: str, filters: Optional[Sequence], default: Sequence,
                  num_teachers: int) -> tuple:
        """The pseudo-label chain of a teacher-student model: ``filters`` (its
        ``semi_train_cfg.pseudo_filters``) or, when None, the ``default`` built from the
        shorthand keys. Returns ``(chain, num_teachers)``, raised to 2 when a filter needs a
        second teacher (consensus). A filter needing anything else is a
        :class:`ConfigKeyError` naming ``owner`` (the model)."""
        chain = cls(default if filters is None else filters)
        unknown = [r for r in chain.requires if r != 'second']
        if unknown:
            raise ConfigKeyError(f'{owner}: pseudo filters need {unknown}, which this model '
                                 f'cannot provide')
        if 'second' in chain.requires:
            num_teachers = max(num_teachers, 2)
        return chain, num_teachers


def as_threshold_tensor(thr: Union[float, Sequence[float]], name: str) -> Tensor:
    """A scalar or per-class threshold vector, checked to lie in [0, 1]."""
    t = torch.as_tensor(thr, dtype=torch.float32)
    if t.ndim > 1 or t.numel() == 0:
        raise ConfigKeyError(f'{name}: expected a float or a list of per-class floats, got {thr!r}')
    if bool(((t < 0) | (t > 1) | torch.isnan(t)).any()):
        raise ConfigKeyError(f'{name}: thresholds must lie in [0, 1], got {thr!r}')
    return t
