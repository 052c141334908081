"""What the offline data generators (``tools/make_*.py``) share: the class names, the
Cityscapes file suffixes, the PNG writer, the process pool, and the "already written with these
settings?" check, and the tools' reports."""
import json
import multiprocessing
import os.path as osp
import sys
import time
from typing import Callable, Sequence

import cv2
import numpy as np

#: Detection / classification classes of the digit data (COCO category d + 1 is digit d).
CLASSES = ('zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine')
#: Segmentation classes: train id 0 is background, digit d has train id d + 1.
SEG_CLASSES = ('background', ) + CLASSES
#: File suffixes of the Cityscapes layout (images, train-id label maps).
IMG_SUFFIX = '_leftImg8bit.png'
SEG_SUFFIX = '_gtFine_labelTrainIds.png'


def write_png(path: str, rgb: np.ndarray) -> None:
    """Write an RGB (H, W, 3) or single-channel (H, W) uint8 array as PNG; ``OSError`` when
    OpenCV cannot."""
    if not cv2.imwrite(path, rgb[..., ::-1] if rgb.ndim == 3 else rgb):
        raise OSError(f'could not write {path}')


def map_jobs(fn: Callable, tasks: Sequence, jobs: int = 1) -> list:
    """``[fn(t) for t in tasks]``, in ``jobs`` spawned processes when ``jobs > 1`` (``fn`` must
    be a module-level function); the order of the results is that of ``tasks``."""
    if jobs > 1:
        with multiprocessing.get_context('spawn').Pool(jobs) as pool:
            return pool.map(fn, tasks)
    return [fn(t) for t in tasks]


def holds_settings(out_dir: str, settings: dict) -> bool:
    """True when ``out_dir/meta.json`` exists and records ``settings``: each of its keys
    equal to the meta's value of that key. The settings go through a JSON round trip first,
    so tuples compare equal to the lists the meta holds."""
    path = osp.join(out_dir, 'meta.json')
    if not osp.isfile(path):
        return False
    with open(path) as f:
        meta = json.load(f)
    return all(meta.get(k) == v for k, v in json.loads(json.dumps(settings)).items())


def report_generation(name: str, out: str, generate: Callable[[], dict], unit: str,
                      objects: str) -> dict:
    """Run ``generate()`` (a generator writing ``out`` and returning its meta) and print how
    long it took and, per split, its ``unit`` count (e.g. images) and ``objects`` count."""
    t0 = time.time()
    meta = generate()
    print(f'{name} written to {out} in {time.time() - t0:.1f}s: '
          + ', '.join(f'{k}: {v[unit]} {unit} / {v["objects"]} {objects}'
                      for k, v in meta['splits'].items()))
    return meta


def generate_once(tool: str, name: str, out: str, cfg, generate: Callable[[], dict],
                  force: bool = False, unit: str = 'images', objects: str = 'objects'):
    """A generator tool's run: ``cfg.validate()`` (a ``ValueError`` exits naming ``tool``);
    nothing when ``out`` already holds ``name`` with these settings (unless ``force``); else
    ``generate()`` with :func:`report_generation`. Returns the meta, or None when skipped."""
    from dataclasses import asdict
    try:
        cfg.validate()
    except ValueError as e:
        sys.exit(f'{tool}: {e}')
    if not force and holds_settings(out, dict(config=asdict(cfg))):
        print(f'{out} already holds {name} with these settings (use --force)')
        return None
    return report_generation(name, out, generate, unit, objects)


def print_paths_or_exit(tool: str, write: Callable[[], Sequence[str]], errors) -> None:
    """A split tool's ending: print the paths ``write()`` wrote, or exit naming ``tool`` and
    the problem when it raises one of ``errors``."""
    try:
        paths = write()
    except errors as e:
        sys.exit(f'{tool}: {e}')
    for path in paths:
        print(path)
