"""Helpers for tests that run real Runners on the tiny datasets."""
import os.path as osp
import uuid
from typing import Any

from mmengine.config import Config


def replace_strings(obj: Any, old: str, new: str) -> Any:
    """Recursively replace a prefix in every string of a config (paths to datasets)."""
    if isinstance(obj, dict):
        return type(obj)({k: replace_strings(v, old, new) for k, v in obj.items()})
    if isinstance(obj, (list, tuple)):
        return type(obj)(replace_strings(v, old, new) for v in obj)
    if isinstance(obj, str) and obj.startswith(old):
        return new + obj[len(old):]
    return obj


def small_run_cfg(cfg: Config, work_dir: str, max_iters: int = 2, val: bool = True) -> Config:
    """Shrink a shipped config to ``max_iters`` iterations on CPU without worker processes."""
    cfg.work_dir = work_dir
    # a unique experiment name: MMEngine keys its DefaultScope and logger instances by it, and
    # without a config file name it is only a timestamp, so a Runner of another test started
    # in the same second would lend this one its default scope
    cfg.experiment_name = f'{osp.basename(work_dir)}_{uuid.uuid4().hex[:8]}'
    # the shipped runtimes name their visualizer 'visualizer': MMEngine keeps one instance per
    # name in a process, so without this a Runner built after another test's (same pytest
    # worker) would write its scalars.json into that test's work_dir
    if cfg.get('visualizer') is not None:
        cfg.visualizer.name = cfg.experiment_name
    cfg.train_cfg.max_iters = max_iters
    cfg.train_cfg.val_interval = max_iters
    if not val:  # IterBasedTrainLoop also validates after the last iteration
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(key) is not None:
            cfg[key].num_workers = 0
            cfg[key].persistent_workers = False
            cfg[key].pop('prefetch_factor', None)  # the GPU configs' (workers only)
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.interval = max_iters
    cfg.default_hooks.visualization = dict(type='DetVisualizationHook', draw=False)
    cfg.log_level = 'WARNING'
    return cfg


def detector_of(cfg: Config):
    return cfg.model.detector if 'detector' in cfg.model else cfg.model


def point_digitscenes(cfg: Config, root: str) -> Config:
    return Config(replace_strings(cfg._cfg_dict.to_dict(), 'data/digitscenes/coco/',
                                  osp.join(root, 'coco') + '/'))


def shrink_resizes(obj: Any, short: int = 160, long: int = 256) -> Any:
    """Make every Resize / RandomResize of a pipeline target about ``long`` x ``short`` px
    (the COCO configs resize to 1333 x 800, far too slow for a CPU test)."""
    if isinstance(obj, dict):
        obj = type(obj)({k: shrink_resizes(v, short, long) for k, v in obj.items()})
        if obj.get('type') in ('Resize', 'RandomResize') and 'scale' in obj:
            scale = obj['scale']
            if isinstance(scale, (list, tuple)) and scale and isinstance(scale[0],
                                                                         (list, tuple)):
                obj['scale'] = [(long, short * 3 // 4), (long, short)]
            else:
                obj['scale'] = (long, short)
        return obj
    if isinstance(obj, (list, tuple)):
        return type(obj)(shrink_resizes(v, short, long) for v in obj)
    return obj


UDA_ST = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))),
                  'configs/uda/st_fcn-r18w16-d8_digitscenes-uda.py')


def uda_cfg(root: str, work_dir: str, max_iters: int = 1, val: bool = False,
            path: str = UDA_ST) -> Config:
    """A shipped configs/uda config on the tiny DigitScenes-UDA at ``root``, from scratch."""
    raw = replace_strings(Config.fromfile(path)._cfg_dict.to_dict(), 'data/digitscenes_uda/',
                          root + '/')
    cfg = small_run_cfg(Config(raw), work_dir, max_iters, val=val)
    cfg.default_hooks.visualization = dict(type='SegVisualizationHook', draw=False)
    cfg.train_dataloader.batch_size = 2
    cfg.load_from = None
    cfg.randomness = dict(seed=3, deterministic=False)
    return cfg


def uda_batch(cfg: Config):
    """(model, the first two training samples collated) of a UDA config, seeded."""
    import numpy as np
    import torch
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import DefaultScope

    from mtkit.registry import DATASETS, MODELS
    state = np.random.get_state()
    np.random.seed(0)
    try:
        with DefaultScope.overwrite_default_scope('mmseg'):
            ds = DATASETS.build(cfg.train_dataloader.dataset)
            data = pseudo_collate([ds[0], ds[1]])
            torch.manual_seed(0)
            model = MODELS.build(cfg.model)
    finally:
        np.random.set_state(state)
    return model, data
