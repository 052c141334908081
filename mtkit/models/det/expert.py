"""Grounded Teacher's expert branch: boxes of another, stronger model supervise the student too.

The expert is any mmdet detector given by config and checkpoint, run online on the teachers'
weak view, or its predictions read from a file written beforehand
(``tools/expert_predictions.py``, or by any model in the same JSON format)::

    {"classes": ["zero", ...],
     "predictions": {"<img_id>": {"bboxes": [[x1, y1, x2, y2], ...],   # original image frame
                                  "scores": [...], "labels": [...]}}}

Its class names must be the dataset's (checked before training by ``ClassesCheckHook``), and
its number of classes the student's (checked at build time).
"""
import json
import os.path as osp
from typing import Dict, List, Optional

import torch
from mmdet.structures import SampleList
from mmengine.structures import InstanceData
from torch import Tensor, nn

from ...utils.errors import ConfigKeyError, check_cfg
from .student_pass import detector_num_classes

EXPERT_DEFAULTS = dict(config=None, checkpoint=None, predictions=None, score_thr=0.5,
                       min_size=2.0, weight=1.0, classes=None)


def check_expert(name: str, cfg: Optional[dict]) -> Optional[dict]:
    """``semi_train_cfg.expert``: None, or a dict of :data:`EXPERT_DEFAULTS` keys naming either
    ``config`` + ``checkpoint`` or ``predictions`` (returned with the defaults filled in)."""
    if cfg is None:
        return None
    if not isinstance(cfg, dict):
        raise ConfigKeyError(f'{name}: expected None or a dict, got {cfg!r}')
    out = check_cfg(name, cfg, EXPERT_DEFAULTS)
    online = out['config'] is not None or out['checkpoint'] is not None
    if online == (out['predictions'] is not None):
        raise ConfigKeyError(f'{name}: give either config and checkpoint (an expert run online) '
                             f'or predictions (a file of its boxes), got {cfg}')
    if online and (out['config'] is None or out['checkpoint'] is None):
        raise ConfigKeyError(f'{name}: an expert run online needs both config and checkpoint, '
                             f'got {cfg}')
    paths = ('config', 'checkpoint') if online else ('predictions', )
    for key in paths:
        if out[key] is None or not osp.isfile(out[key]):
            raise ConfigKeyError(f'{name}.{key}: {out[key]!r} is not a file')
    if not 0.0 <= out['score_thr'] <= 1.0:
        raise ConfigKeyError(f'{name}.score_thr must lie in [0, 1], got {out["score_thr"]!r}')
    if out['weight'] < 0:
        raise ConfigKeyError(f'{name}.weight must be >= 0, got {out["weight"]!r}')
    return out


def load_predictions(path: str) -> tuple:
    """``(classes, {img_id: InstanceData})`` of an expert predictions file (see the module
    docstring); a malformed file is a ``ConfigKeyError`` naming it."""
    try:
        with open(path) as f:
            data = json.load(f)
        classes = list(data['classes'])
        table = {}
        for img_id, p in data['predictions'].items():
            boxes = torch.tensor(p['bboxes'], dtype=torch.float32).reshape(-1, 4)
            scores = torch.tensor(p['scores'], dtype=torch.float32).reshape(-1)
            labels = torch.tensor(p['labels'], dtype=torch.long).reshape(-1)
            if not len(boxes) == len(scores) == len(labels):
                raise ValueError(f'image {img_id}: {len(boxes)} boxes, {len(scores)} scores, '
                                 f'{len(labels)} labels')
            if len(labels) and (labels.min() < 0 or labels.max() >= len(classes)):
                raise ValueError(f'image {img_id}: labels outside 0..{len(classes) - 1}')
            table[str(img_id)] = InstanceData(bboxes=boxes, scores=scores, labels=labels)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ConfigKeyError(f'expert predictions {path}: {e} (expected {{"classes": [...], '
                             f'"predictions": {{img_id: {{"bboxes", "scores", "labels"}}}}}})'
                             ) from e
    return classes, table


class Expert:
    """The expert of a :class:`~mtkit.models.MeanTeacherDetector` (a plain object: its model,
    when online, stays outside the wrapper's module tree, state dict and checkpoints).

    Args:
        owner: Name used in error messages (``{owner}.semi_train_cfg.expert``).
        cfg: The checked ``semi_train_cfg.expert``.
        num_classes: The student's number of classes.
        preprocessor: The wrapper's detector preprocessor: an online expert reads the teachers'
            inputs, so its own preprocessor must normalise alike.
    """

    def __init__(self, owner: str, cfg: dict, num_classes: Optional[int],
                 preprocessor: Optional[nn.Module] = None) -> None:
        self.where = f'{owner}.semi_train_cfg.expert'
        self.cfg = cfg
        self.model: Optional[nn.Module] = None
        self.table: Optional[Dict[str, InstanceData]] = None
        if cfg['predictions'] is not None:
            self.classes, self.table = load_predictions(cfg['predictions'])
            n = len(self.classes)
        else:
            self.model, self.classes = self._build(cfg, preprocessor)
            n = detector_num_classes(self.model)
        if cfg['classes'] is not None:
            if self.classes is not None and list(cfg['classes']) != list(self.classes):
                raise ConfigKeyError(f'{self.where}.classes {list(cfg["classes"])} differ from '
                                     f'the expert\'s own {self.classes}')
            self.classes = list(cfg['classes'])
        if num_classes is not None and n is not None and n != num_classes:
            raise ConfigKeyError(
                f'{self.where}: the expert predicts {n} classes {self.classes or ""}, the '
                f'student {num_classes}; an expert must detect the classes of the dataset')

    def _build(self, cfg: dict, preprocessor) -> tuple:
        from mmengine.config import Config
        from mmengine.registry import DefaultScope
        from mmengine.runner import load_checkpoint

        from ...registry import MODELS
        model_cfg = Config.fromfile(cfg['config']).model
        mine = dict(model_cfg.get('data_preprocessor') or {})
        if preprocessor is not None:
            enabled = bool(getattr(preprocessor, '_enable_normalize', False))
            for key in ('mean', 'std'):
                theirs = getattr(preprocessor, key, None) if enabled else None
                theirs = None if theirs is None else theirs.detach().float().flatten().cpu()
                ours = None if mine.get(key) is None else torch.tensor(
                    mine[key], dtype=torch.float32).flatten()
                same = (ours is None and theirs is None) or (
                    ours is not None and theirs is not None and ours.shape == theirs.shape
                    and torch.allclose(ours, theirs))
                if not same:
                    raise ConfigKeyError(
                        f'{self.where}: the expert ({cfg["config"]}) normalises with {key} '
                        f'{mine.get(key)}, the model with '
                        f'{None if theirs is None else theirs.tolist()}; an online expert '
                        f'reads the teachers\' inputs, so both must normalise alike (or give '
                        f'its predictions as a file)')
        with DefaultScope.overwrite_default_scope('mmdet'):
            model = MODELS.build(model_cfg)
        ckpt = load_checkpoint(model, cfg['checkpoint'], map_location='cpu', strict=True,
                               logger='silent')
        model.requires_grad_(False)
        model.eval()
        classes = (ckpt.get('meta', {}).get('dataset_meta') or {}).get('classes')
        return model, list(classes) if classes else None

    def boxes(self, predict, inputs: Tensor, samples: SampleList) -> List[InstanceData]:
        """The expert's boxes (score >= ``score_thr``) of each image in the original frame;
        ``predict(model, name, inputs, samples)`` runs an online expert like a teacher."""
        thr = self.cfg['score_thr']
        if self.model is not None:
            device = inputs.device
            if next(self.model.parameters()).device != device:
                self.model.to(device)
            found = predict(self.model, 'expert', inputs, samples)
        else:
            found = []
            for s in samples:
                key = str(s.metainfo.get('img_id'))
                if key not in self.table:
                    raise ConfigKeyError(
                        f'{self.where}.predictions {self.cfg["predictions"]} has no image '
                        f'{key} ({s.metainfo.get("img_path", "?")}); write it for the training '
                        f'images (tools/expert_predictions.py)')
                found.append(self.table[key].to(inputs.device))
        return [inst[inst.scores >= thr] for inst in found]
