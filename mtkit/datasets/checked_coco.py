"""mmdet's CocoDataset with the data checks it lacks.

mmdet drops, without a word, every annotation whose ``category_id`` is not one of the
config's ``classes``, and every box it cannot train on (outside the image, ``area <= 0``, width
or height < 1), and so the images left without a box when ``filter_cfg`` filters empty ones;
an annotation file without images fails later, inside a sampler, with numpy's "need at least
one array to concatenate". :class:`CheckedCocoDataset` counts what is dropped and names it in
the run's log.
"""
import collections
import json
import logging
import os.path as osp
from typing import List, Optional, Union

from mmdet.datasets import CocoDataset
from mmengine.fileio import get_local_path
from mmengine.logging import print_log

from ..registry import DATASETS, register
from ..utils.errors import ConfigKeyError, check_choice
from .image_keys import ChecksAfterLoading, image_key, overlap_error

POLICIES = ('warn', 'error', 'ignore')


@register(DATASETS)
class CheckedCocoDataset(ChecksAfterLoading, CocoDataset):
    """:class:`mmdet.datasets.CocoDataset` that checks its annotation file when loaded.

    * Annotations whose ``category_id`` is not among ``metainfo['classes']``: counted per id;
      ``unknown_categories='warn'`` (default) logs a warning with the count and ids (in the
      run's log file, through MMEngine's current logger), ``'error'`` raises
      :class:`ConfigKeyError`, ``'ignore'`` is mmdet's silence.
    * A class of ``classes`` with no annotation at all (training sets): a warning (or the
      error), since the model then never sees a labeled example of it.
    * Boxes mmdet drops (nothing of the box inside the image, ``area <= 0``, width or height
      below 1 pixel; ``ignore`` annotations are meant to be left out and are not counted):
      counted per reason, with example annotation ids, under ``invalid_boxes`` (same choices).
      A ``bbox`` that is not four numbers is a :class:`ConfigKeyError` naming the annotation.
    * Always a :class:`ConfigKeyError` naming the file: no image at all (an empty split), or a
      class of ``classes`` missing from the file's categories (mmdet would shift the labels).
    * With ``disjoint_from`` (the unlabeled set of a semi-supervised config names the labeled
      annotation file): a :class:`ConfigKeyError` naming both files when an image (the same
      ``file_name``; both files name images in the same folder) is in both, since a labeled
      image would then also train as unlabeled.

    Args:
        unknown_categories: ``'warn'``, ``'error'`` or ``'ignore'``.
        invalid_boxes: ``'warn'``, ``'error'`` or ``'ignore'``.
        disjoint_from: Another COCO annotation file (relative to ``data_root`` like
            ``ann_file``) that must share no image with this one.
        **kwargs: As :class:`~mmdet.datasets.CocoDataset`.
    """

    def __init__(self, *args, unknown_categories: str = 'warn', invalid_boxes: str = 'warn',
                 disjoint_from: Optional[str] = None, **kwargs) -> None:
        check_choice('CheckedCocoDataset.unknown_categories', unknown_categories, POLICIES)
        check_choice('CheckedCocoDataset.invalid_boxes', invalid_boxes, POLICIES)
        self.unknown_categories = unknown_categories
        self.invalid_boxes = invalid_boxes
        self.disjoint_from = disjoint_from
        super().__init__(*args, **kwargs)

    def load_data_list(self) -> List[dict]:
        data_list = super().load_data_list()
        classes = list(self.metainfo['classes'])
        if len(self.cat_ids) != len(classes):
            names = {c['name'] for c in self._read_json(self.ann_file).get('categories', [])}
            raise ConfigKeyError(f'CheckedCocoDataset: {self.ann_file!r} has no category named '
                                 f'{[c for c in classes if c not in names]} (of the config\'s '
                                 f'classes); its categories are {sorted(names)}')
        if not data_list:
            raise ConfigKeyError(f'CheckedCocoDataset: {self.ann_file!r} has no image: an empty '
                                 f'split (check the file, or the splitting command)')
        if self.disjoint_from is not None:
            self._check_disjoint()
        return data_list

    def _read_json(self, path: str) -> dict:
        with get_local_path(path, backend_args=self.backend_args) as local:
            with open(local) as f:
                return json.load(f)

    def _check_disjoint(self) -> None:
        other = self.disjoint_from
        if self.data_root and not osp.isabs(other):
            other = osp.join(self.data_root, other)
        if not osp.isfile(other):
            raise ConfigKeyError(f'CheckedCocoDataset.disjoint_from: {other!r} does not exist '
                                 f'(the annotation file that {self.ann_file!r} must not overlap)')
        folder = self.data_prefix.get('img', '')
        theirs = {image_key(osp.join(folder, img['file_name']))
                  for img in self._read_json(other).get('images', [])}
        both = {image_key(osp.join(folder, name)) for name in self._file_names} & theirs
        if both:
            raise overlap_error('CheckedCocoDataset', repr(self.ann_file), repr(other), both,
                                'write them with tools/split_coco.py')

    def parse_data_info(self, raw_data_info: dict) -> Union[dict, List[dict]]:
        if not hasattr(self, '_unknown'):
            self._unknown, self._seen = collections.Counter(), collections.Counter()
            self._invalid = collections.defaultdict(list)  # reason -> annotation ids
            self._file_names = []
        img = raw_data_info['raw_img_info']
        self._file_names.append(img['file_name'])
        for ann in raw_data_info['raw_ann_info']:
            cat = ann.get('category_id')
            if cat not in self.cat2label:
                self._unknown[cat] += 1
                continue
            self._seen[cat] += 1
            if not ann.get('ignore', False):
                try:
                    reason = invalid_box_reason(ann, img['width'], img['height'])
                except ConfigKeyError as e:
                    raise ConfigKeyError(f'CheckedCocoDataset {self.ann_file!r}: {e}') from None
                if reason is not None:
                    self._invalid[reason].append(ann.get('id'))
        return super().parse_data_info(raw_data_info)

    def check_loaded(self) -> None:
        """Report what mmdet dropped while loading (once, after the base's full_init)."""
        unknown = getattr(self, '_unknown', collections.Counter())
        seen = getattr(self, '_seen', collections.Counter())
        invalid = getattr(self, '_invalid', {})
        problems = []
        if unknown:
            ids = ', '.join(f'{k} ({v})' for k, v in sorted(unknown.items(), key=str))
            problems.append(f'{sum(unknown.values())} annotation(s) have a category_id that is '
                            f'not one of the {len(self.cat_ids)} classes and are dropped: '
                            f'ids (count) {ids}')
        names = {cat: name for name, cat in zip(self.metainfo['classes'], self.cat_ids)}
        missing = [names[cat] for cat in self.cat_ids if seen[cat] == 0]
        if missing and not self.test_mode:
            problems.append(f'class(es) {missing} have no annotation')
        self._check_policy(problems, 'unknown_categories', self.unknown_categories)
        if invalid:
            total = sum(len(v) for v in invalid.values())
            reasons = '; '.join(f'{len(v)} {reason} (annotation ids {v[:5]}'
                                f'{", ..." if len(v) > 5 else ""})'
                                for reason, v in sorted(invalid.items()))
            self._check_policy([f'{total} box(es) of {sum(seen.values())} are invalid and are '
                                f'dropped: {reasons}'], 'invalid_boxes', self.invalid_boxes)

    def _check_policy(self, problems: List[str], key: str, policy: str) -> None:
        if not problems or policy == 'ignore':
            return
        msg = f'CheckedCocoDataset {self.ann_file!r}: ' + '; '.join(problems) + \
              f" ({key}='ignore' silences this, 'error' makes it fatal)"
        if policy == 'error':
            raise ConfigKeyError(msg)
        print_log(msg, logger='current', level=logging.WARNING)


def invalid_box_reason(ann: dict, width: float, height: float) -> Optional[str]:
    """Why mmdet's CocoDataset would drop the box of COCO annotation ``ann`` on an image of
    ``width`` x ``height`` (None: it is kept). A ``bbox`` that is not four numbers raises
    :class:`ConfigKeyError` (mmdet would fail with an unpacking error)."""
    box = ann.get('bbox')
    if not (isinstance(box, (list, tuple)) and len(box) == 4
            and all(isinstance(v, (int, float)) for v in box)):
        raise ConfigKeyError(f'annotation {ann.get("id")!r} (image_id '
                             f'{ann.get("image_id")!r}) has bbox {box!r}; expected '
                             f'[x, y, width, height] (4 numbers)')
    x, y, w, h = box
    if w < 1 or h < 1:
        return 'with width or height below 1 pixel'
    inside_w = max(0, min(x + w, width) - max(x, 0))
    inside_h = max(0, min(y + h, height) - max(y, 0))
    if inside_w * inside_h == 0:
        return 'entirely outside the image'
    if ann.get('area', 0) <= 0:
        return 'with area <= 0'
    return None
