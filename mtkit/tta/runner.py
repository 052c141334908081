"""Wiring of ``tools/tta.py``: build the source model and the domain stream from a config,
then run :func:`~mtkit.tta.stream.run_stream`.

The config's ``tta`` section names the data: ``source_dataset`` (labeled clean data for RMT's
prototypes and replay) and ``test_dataset`` (one corrupted domain), dataset configs in which the
string ``{domain}`` is replaced by the domain's name. Without them the DigitsC layout under
``tta.data_root`` is used. A model with a ``decode_head`` (an mmseg segmentor) is adapted
through :class:`~mtkit.tta.segmentor.TTASegmentor` and scored by mIoU; a classifier by error.
"""
import copy
import functools
import itertools
from typing import List, Optional, Sequence

import torch
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope
from mmengine.runner import load_state_dict
from torch.utils.data import DataLoader

from ..registry import DATASETS, MODELS
from ..utils.errors import ConfigKeyError
from ..generate.corruptions import CORRUPTIONS
from .methods import build_tta_method, source_prototypes
from .stream import ErrorMeter, IoUMeter, gradual_domains, run_stream
from .segmentor import TTASegmentor

#: state-dict keys of the classifier layer, by model kind, for the class-count check
_HEAD_KEYS = ('head.weight', 'decode_head.conv_seg.weight')


def _load_source(model, checkpoint: str) -> None:
    """Read ``checkpoint`` once, check its head's class count against the model, load it."""
    state = torch.load(checkpoint, map_location='cpu', weights_only=True)
    state = state.get('state_dict', state)
    state = {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state.items()}
    for key in _HEAD_KEYS:
        w = state.get(key)
        if w is not None and w.shape[0] != model.num_classes:
            raise ConfigKeyError(f'{checkpoint}: its head ({key}) has {w.shape[0]} classes, the '
                                 f'config\'s model has num_classes={model.num_classes}')
    load_state_dict(model, state, strict=True, logger='silent')


def _fill(cfg, domain: str):
    """A copy of a (nested) config with ``{domain}`` in every string replaced."""
    if isinstance(cfg, dict):
        return {k: _fill(v, domain) for k, v in cfg.items()}
    if isinstance(cfg, (list, tuple)):
        return type(cfg)(_fill(v, domain) for v in cfg)
    if isinstance(cfg, str):
        return cfg.replace('{domain}', domain)
    return cfg


def _dataset_cfg(cfg, split: str, domain: str) -> dict:
    tta = cfg.tta
    key = 'source_dataset' if split == 'train' else 'test_dataset'
    if key in tta:
        ds = _fill(copy.deepcopy(dict(tta[key])), domain)
        ds.setdefault('test_mode', True)
        return ds
    return dict(type='mtkit.DigitsCDataset', data_root=tta.data_root, split=split,
                domain=domain, pipeline=cfg.test_pipeline, test_mode=True)


def _labels(samples) -> torch.Tensor:
    if hasattr(samples[0], 'gt_sem_seg'):
        return torch.stack([s.gt_sem_seg.data[0] for s in samples]).long()
    return torch.stack([s.gt_label for s in samples])


def _batches(cfg, split: str, domain: str, batch_size: int, seed: int, model,
             shuffle: bool = True, max_images: Optional[int] = None):
    ds = DATASETS.build(_dataset_cfg(cfg, split, domain))
    g = torch.Generator().manual_seed(seed)
    if max_images is not None and max_images < len(ds):
        # a fixed random subset of the domain (seeded), for shorter streams
        keep = torch.randperm(len(ds), generator=torch.Generator().manual_seed(seed + 1))
        ds = torch.utils.data.Subset(ds, keep[:max_images].tolist())
    loader = DataLoader(ds, batch_size=batch_size, shuffle=shuffle, generator=g,
                        collate_fn=pseudo_collate, num_workers=0)
    for data in loader:
        data = model.data_preprocessor(data, False)
        yield data['inputs'], _labels(data['data_samples']).to(data['inputs'].device)


def run_tta(cfg, checkpoint: str, method_name: str, setting: str = 'continual', seed: int = 0,
            domains: Optional[Sequence[str]] = None, log_every: int = 0,
            max_per_domain: Optional[int] = None, device: str = 'cpu') -> dict:
    tta = cfg.get('tta')
    if tta is None:
        raise ConfigKeyError(f'{cfg.filename}: no `tta` section (data_root, severity, '
                             f'batch_size, methods)')
    if method_name not in tta.methods:
        raise ConfigKeyError(f'--method {method_name!r} is not in tta.methods '
                             f'{sorted(tta.methods)}')
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'mmengine')):
        model = MODELS.build(cfg.model)
        _load_source(model, checkpoint)
        model.to(device)  # (BaseModel.to also points the data preprocessor at the device)
        meter = ErrorMeter
        if hasattr(model, 'decode_head'):
            model = TTASegmentor(model)
            meter = functools.partial(IoUMeter, model.num_classes, model.ignore_index,
                                      model.align_corners)
        method = build_tta_method(dict(tta.methods[method_name]), model)
        if hasattr(method, 'set_source'):
            src_bs = tta.get('source_batch_size', tta.batch_size)
            src = list(itertools.islice(
                _batches(cfg, 'train', 'clean', src_bs, seed, model), tta.source_batches))
            try:
                protos = source_prototypes(model, src, model.num_classes,
                                           getattr(model, 'ignore_index', 255))
            except ValueError as e:
                raise ConfigKeyError(f'{e}: tta.source_batches={tta.source_batches} batches of '
                                     f'tta.source_batch_size={src_bs} are too few; raise '
                                     f'either') from e
            replay = itertools.cycle(src)
            method.set_source(protos, replay)
        if domains is None:
            domains: List[str] = (gradual_domains() if setting == 'gradual' else
                                  [f'{c}-{tta.severity}' for c in CORRUPTIONS])
        stream = [(d, _batches(cfg, 'test', d, tta.batch_size, seed * 1000 + i, model,
                               max_images=max_per_domain))
                  for i, d in enumerate(domains)]
        result = run_stream(method, stream, setting, log_every=log_every, meter=meter)
    result.update(method=method_name, method_cfg=dict(tta.methods[method_name]), seed=seed,
                  checkpoint=checkpoint, max_per_domain=max_per_domain,
                  batch_size=tta.batch_size, device=str(device))
    return result

