"""Check a config's datasets before training: every image decoded, every annotation validated.

A corrupt image is otherwise found only when the sampler draws it, possibly hours into a run
(``AssertionError: failed to load image``), and a wrong box or label map only through a bad
metric. :func:`check_config_data` builds the datasets of a config's dataloaders as the Runner
would (mtkit's load-time checks included), then reads every file they name: ``tools/check_data.py
CONFIG`` and ``tools/train.py CONFIG --check-data`` print its report.
"""
import math
import multiprocessing
import os
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from .image_keys import leaves

SPLITS = ('train', 'val', 'test')
DEFAULT_WORKERS = min(8, os.cpu_count() or 1)  # processes decoding images


@dataclass
class Problem:
    """One finding: the split and file it concerns, and what is wrong."""
    split: str
    path: str
    message: str

    def __str__(self) -> str:
        return f'[{self.split}] {self.path}: {self.message}'


@dataclass
class Report:
    """What :func:`check_config_data` checked and found."""
    images: Dict[str, int] = field(default_factory=dict)  # split -> images decoded
    annotations: Dict[str, int] = field(default_factory=dict)  # split -> boxes / label maps
    problems: List[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        lines = [f'{split}: {self.images[split]} image(s), {self.annotations.get(split, 0)} '
                 f'annotation(s) checked' for split in self.images]
        if self.problems:
            lines.append(f'{len(self.problems)} problem(s):')
            lines += [f'  {p}' for p in self.problems]
        else:
            lines.append('no problem found')
        return '\n'.join(lines)


# ------------------------------------------------------------------ pure checks of one item
def check_boxes(instances: Sequence[dict], height: Optional[int], width: Optional[int],
                num_classes: Optional[int]) -> List[str]:
    """What is wrong with the boxes of one image (mmdet ``instances``, ``bbox`` as x1, y1, x2,
    y2 in pixels): not finite, empty (x2 <= x1 or y2 <= y1), outside the image by more than a
    pixel, or a ``bbox_label`` outside ``[0, num_classes)``."""
    out = []
    for k, inst in enumerate(instances):
        box = inst.get('bbox')
        if box is None:
            continue
        x1, y1, x2, y2 = (float(v) for v in box)
        if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
            out.append(f'box {k} {list(box)} is not finite')
        elif x2 <= x1 or y2 <= y1:
            out.append(f'box {k} {list(box)} is empty (x2 <= x1 or y2 <= y1)')
        elif height is not None and width is not None and (
                x1 < -1 or y1 < -1 or x2 > width + 1 or y2 > height + 1):
            out.append(f'box {k} {list(box)} leaves the {width}x{height} image')
        label = inst.get('bbox_label')
        if label is not None and num_classes is not None and not 0 <= int(label) < num_classes:
            out.append(f'box {k} has label {label}, not in [0, {num_classes})')
    return out


def check_label_values(values: Iterable[int], num_classes: int, ignore_index: int,
                       reduce_zero_label: bool = False) -> List[str]:
    """Label-map values that are neither a class (``0 .. num_classes - 1``; ``1 ..
    num_classes`` with ``reduce_zero_label``, where 0 becomes ignore) nor ``ignore_index``."""
    low, high = (0, num_classes) if not reduce_zero_label else (0, num_classes + 1)
    bad = sorted(int(v) for v in values if not (low <= v < high or v == ignore_index))
    if bad:
        return [f'label values {bad[:10]} are neither a class (0..{high - 1}) nor '
                f'ignore_index {ignore_index}']
    return []


def _read(path: str, flag: str) -> Tuple[Optional[np.ndarray], Optional[str]]:
    import mmcv
    from mmengine import fileio
    try:
        data = fileio.get(path)
    except FileNotFoundError:
        return None, 'file not found'
    except OSError as e:
        return None, f'cannot be read ({e})'
    try:
        if flag == 'unchanged':  # label maps: mmseg reads them with pillow, unchanged
            img = mmcv.imfrombytes(data, flag='unchanged', backend='pillow')
        else:
            img = mmcv.imfrombytes(data, flag='color')
    except Exception as e:  # noqa: BLE001  (any decoder error is the finding)
        return None, f'cannot be decoded ({type(e).__name__}: {e})'
    if img is None:
        return None, f'cannot be decoded ({len(data)} bytes)'
    return img, None


def check_item(task: dict) -> Tuple[int, int, List[Tuple[str, str]]]:
    """Check one data item (runs in a worker): returns ``(images, annotations, [(path,
    message)])``. ``task`` holds the item's ``img_paths``, ``seg_paths``, expected
    ``height``/``width``, ``instances`` and the dataset's ``num_classes``, ``ignore_index``,
    ``reduce_zero_label``."""
    found: List[Tuple[str, str]] = []
    shape = None
    for path in task['img_paths']:
        img, err = _read(path, 'color')
        if err:
            found.append((path, err))
            continue
        shape = img.shape[:2]
        h, w = task.get('height'), task.get('width')
        if h is not None and w is not None and (int(h), int(w)) != tuple(shape):
            found.append((path, f'is {shape[1]}x{shape[0]} but its annotation says {w}x{h}'))
    n_ann = len(task.get('instances') or [])
    for msg in check_boxes(task.get('instances') or [], task.get('height'), task.get('width'),
                           task.get('num_classes')):
        found.append((task['img_paths'][0], msg))
    for path in task.get('seg_paths') or []:
        seg, err = _read(path, 'unchanged')
        n_ann += 1
        if err:
            found.append((path, err))
            continue
        if shape is not None and tuple(seg.shape[:2]) != tuple(shape):
            found.append((path, f'label map is {seg.shape[1]}x{seg.shape[0]}, its image '
                                f'{shape[1]}x{shape[0]}'))
        if task.get('num_classes') is not None and task.get('check_values', True):
            for msg in check_label_values(np.unique(seg), task['num_classes'],
                                          task['ignore_index'], task['reduce_zero_label']):
                found.append((path, msg))
    return len(task['img_paths']), n_ann, found


# ------------------------------------------------------------------ datasets of a config
def _as_list(value) -> List[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def dataset_tasks(dataset) -> List[dict]:
    """One :func:`check_item` task per data item of every leaf of ``dataset``."""
    tasks = []
    for leaf in leaves(dataset):
        meta = getattr(leaf, 'metainfo', None) or {}
        classes = meta.get('classes')
        common = dict(num_classes=len(classes) if classes else None,
                      ignore_index=getattr(leaf, 'ignore_index', 255),
                      reduce_zero_label=bool(getattr(leaf, 'reduce_zero_label', False)),
                      check_values=not getattr(leaf, 'label_map', None))
        for i in range(len(leaf)):
            info = leaf.get_data_info(i)
            tasks.append(dict(
                common, img_paths=_as_list(info.get('img_path') or info.get('img_paths')),
                seg_paths=_as_list(info.get('seg_map_path') or info.get('seg_map_paths')),
                height=info.get('height'), width=info.get('width'),
                instances=[dict(bbox=x.get('bbox'), bbox_label=x.get('bbox_label'))
                           for x in info.get('instances') or []]))
    return tasks


def _load_time_findings(dataset) -> List[Tuple[str, str]]:
    """What :class:`~mtkit.datasets.CheckedCocoDataset` counted while loading (dropped
    annotations), as findings."""
    out = []
    for leaf in leaves(dataset):
        ann = getattr(leaf, 'ann_file', '')
        unknown = getattr(leaf, '_unknown', None)
        if unknown:
            out.append((ann, f'{sum(unknown.values())} annotation(s) with a category_id that '
                             f'is not a class of the config (ids {sorted(unknown, key=str)})'))
        for reason, ids in sorted((getattr(leaf, '_invalid', None) or {}).items()):
            out.append((ann, f'{len(ids)} box(es) {reason} (annotation ids {ids[:5]})'))
    return out


def check_config_data(cfg, splits: Sequence[str] = SPLITS, workers: int = 0,
                      progress: bool = True) -> Report:
    """Build the datasets of ``cfg``'s ``{split}_dataloader`` and check every item. A dataset
    that fails to build (mtkit's load-time checks raise) is one problem of its split."""
    from mmengine.registry import DATASETS, init_default_scope
    from mmengine.utils import ProgressBar
    init_default_scope(cfg.get('default_scope', 'mmengine'))
    report = Report()
    for split in splits:
        loader = cfg.get(f'{split}_dataloader')
        if not loader or not loader.get('dataset'):
            continue
        try:
            dataset = DATASETS.build(loader['dataset'])
            if hasattr(dataset, 'full_init'):
                dataset.full_init()
        except Exception as e:  # noqa: BLE001  (a build error is the finding)
            report.images[split] = 0
            report.problems.append(Problem(split, f'{split}_dataloader.dataset',
                                           f'{type(e).__name__}: {e}'))
            continue
        report.problems += [Problem(split, p, m) for p, m in _load_time_findings(dataset)]
        tasks = dataset_tasks(dataset)
        bar = ProgressBar(len(tasks)) if progress and tasks else None
        images = annotations = 0
        pool = multiprocessing.get_context('fork').Pool(workers) if workers > 1 else None
        try:
            if pool:
                results = pool.imap(check_item, tasks, chunksize=16)
            else:
                results = map(check_item, tasks)
            for n_img, n_ann, found in results:
                images, annotations = images + n_img, annotations + n_ann
                report.problems += [Problem(split, p, m) for p, m in found]
                if bar:
                    bar.update()
        finally:
            if pool:
                pool.terminate()
        if bar:
            print()
        report.images[split], report.annotations[split] = images, annotations
    return report
