"""Wiring of ``tools/tta.py``: build the source model and the domain stream from a config,
then run :func:`~mtkit.tta.runner.run_stream`."""
import itertools
from typing import List, Optional, Sequence

import torch
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope
from mmengine.runner import load_state_dict
from torch.utils.data import DataLoader

from ..registry import DATASETS, MODELS
from ..utils.errors import ConfigKeyError
from .corruptions import CORRUPTIONS
from .methods import build_tta_method, source_prototypes
from .runner import gradual_domains, run_stream


def _load_source(model, checkpoint: str) -> None:
    """Read ``checkpoint`` once, check its head's class count against the model, load it."""
    state = torch.load(checkpoint, map_location='cpu', weights_only=True)
    state = state.get('state_dict', state)
    state = {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state.items()}
    w = state.get('head.weight')
    if w is not None and w.shape[0] != model.num_classes:
        raise ConfigKeyError(f'{checkpoint}: its head has {w.shape[0]} classes, the config\'s '
                             f'model has num_classes={model.num_classes}')
    load_state_dict(model, state, strict=True, logger='silent')


def _batches(cfg, split: str, domain: str, batch_size: int, seed: int, model,
             shuffle: bool = True, max_images: Optional[int] = None):
    ds = DATASETS.build(dict(type='mtkit.DigitsCDataset', data_root=cfg.tta.data_root,
                             split=split, domain=domain, pipeline=cfg.test_pipeline,
                             test_mode=True))
    g = torch.Generator().manual_seed(seed)
    if max_images is not None and max_images < len(ds):
        # a fixed random subset of the domain (seeded), for shorter streams
        keep = torch.randperm(len(ds), generator=torch.Generator().manual_seed(seed + 1))
        ds = torch.utils.data.Subset(ds, keep[:max_images].tolist())
    loader = DataLoader(ds, batch_size=batch_size, shuffle=shuffle, generator=g,
                        collate_fn=pseudo_collate, num_workers=0)
    for data in loader:
        data = model.data_preprocessor(data, False)
        labels = torch.stack([s.gt_label for s in data['data_samples']])
        yield data['inputs'], labels


def run_tta(cfg, checkpoint: str, method_name: str, setting: str = 'continual', seed: int = 0,
            domains: Optional[Sequence[str]] = None, log_every: int = 0,
            max_per_domain: Optional[int] = None) -> dict:
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
        method = build_tta_method(dict(tta.methods[method_name]), model)
        if hasattr(method, 'set_source'):
            src = list(itertools.islice(
                _batches(cfg, 'train', 'clean', tta.batch_size, seed, model), tta.source_batches))
            protos = source_prototypes(model, src, model.num_classes)
            replay = itertools.cycle(src)
            method.set_source(protos, replay)
        if domains is None:
            domains: List[str] = (gradual_domains() if setting == 'gradual' else
                                  [f'{c}-{tta.severity}' for c in CORRUPTIONS])
        stream = [(d, _batches(cfg, 'test', d, tta.batch_size, seed * 1000 + i, model,
                               max_images=max_per_domain))
                  for i, d in enumerate(domains)]
        result = run_stream(method, stream, setting, log_every=log_every)
    result.update(method=method_name, method_cfg=dict(tta.methods[method_name]), seed=seed,
                  checkpoint=checkpoint, max_per_domain=max_per_domain)
    return result
