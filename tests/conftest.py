"""Shared fixtures: tiny generated datasets in the real COCO / Cityscapes layouts."""
import copy
import json
import os
import os.path as osp
import shutil

import pytest

# one intra-op thread per pytest-xdist worker (make test runs one worker per core), else 2.
# A worker must override, not default: it inherits the controller's environment, where this
# file already set 2 (two workers x 2 threads on 2 cores made Runner tests 6x slower)
if os.environ.get('PYTEST_XDIST_WORKER'):
    os.environ['OMP_NUM_THREADS'] = '1'
else:
    os.environ.setdefault('OMP_NUM_THREADS', '2')

import mtkit  # noqa: E402,F401  (registers mtkit; allowlists checkpoint classes)
import torch  # noqa: E402

torch.set_num_threads(int(os.environ['OMP_NUM_THREADS']))  # in case torch was imported first
import mmengine.config.config as _mmengine_config  # noqa: E402
from mmengine.config import Config  # noqa: E402

from mtkit.generate.digitscenes import DigitScenesConfig, generate  # noqa: E402

_PARSED = {}
_fromfile = Config.fromfile


def _fromfile_once(filename, *args, **kwargs):
    """``Config.fromfile`` parsed once per file and session (a COCO config that inherits
    mmdet's bases takes seconds to parse, and the suite reads each config several times);
    every call gets its own deep copy, and a file changed since is parsed again."""
    if args or kwargs:
        return _fromfile(filename, *args, **kwargs)
    st = os.stat(filename)
    key = (osp.abspath(filename), st.st_mtime_ns, st.st_size)
    if key not in _PARSED:
        _PARSED[key] = _fromfile(filename)
    return copy.deepcopy(_PARSED[key])


Config.fromfile = staticmethod(_fromfile_once)

# MMEngine formats a config with yapf each time it logs, dumps or checkpoints it: seconds per
# call, most of a short Runner test's time. The text before formatting is the same Python
# (yapf parses it), so the tests keep it as it is.
_mmengine_config.FormatCode = lambda text, **kwargs: (text, False)
# and so do the Python processes the tests start (tools, distributed launches)
_STARTUP = osp.join(osp.dirname(osp.abspath(__file__)), 'startup')
os.environ['PYTHONPATH'] = os.pathsep.join(
    [_STARTUP] + [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if p])

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def tiny_cfg(seed: int = 0, n_train: int = 24) -> DigitScenesConfig:
    return DigitScenesConfig(seed=seed, num_images=dict(train=n_train, val=6, test=6),
                             img_size=64, min_digit=12, max_digit=28, max_objects=3,
                             percents=(1, 10, 50), folds=(1, ), extra_unlabeled=4)


#: a tiny DigitScenes-UDA (64 px)
UDA_SMALL = dict(num_source=dict(train=4, val=2), num_target=dict(train=4, val=3, test=2),
                 img_size=64)


@pytest.fixture(scope='session')
def digitscenes_uda(tmp_path_factory):
    """A tiny DigitScenes-UDA: (root folder, the generator's metadata)."""
    from mtkit.generate.digitscenes_uda import DigitScenesUDAConfig, generate_uda
    root = str(tmp_path_factory.mktemp('uda'))
    return root, generate_uda(root, DigitScenesUDAConfig(**UDA_SMALL))


@pytest.fixture(scope='session')
def digitscenes(tmp_path_factory):
    """A tiny DigitScenes (64 px): returns its root folder."""
    root = str(tmp_path_factory.mktemp('digitscenes'))
    generate(root, tiny_cfg())
    return root


@pytest.fixture(scope='session')
def tiny_coco(tmp_path_factory, digitscenes):
    """The tiny DigitScenes laid out like data/coco (train2017, val2017, semi_anns/)."""
    root = str(tmp_path_factory.mktemp('coco'))
    src = osp.join(digitscenes, 'coco')
    shutil.copytree(osp.join(src, 'train'), osp.join(root, 'train2017'))
    shutil.copytree(osp.join(src, 'val'), osp.join(root, 'val2017'))
    os.makedirs(osp.join(root, 'annotations'))
    os.makedirs(osp.join(root, 'semi_anns'))

    def rename(name_in, name_out):
        with open(osp.join(src, 'annotations', name_in)) as f:
            coco = json.load(f)
        # the COCO configs use CocoDataset's 80-class METAINFO: list all 80 categories; the
        # ten digits become the first ten
        from mmdet.datasets import CocoDataset
        coco['categories'] = [dict(id=i + 1, name=n, supercategory='x')
                              for i, n in enumerate(CocoDataset.METAINFO['classes'])]
        with open(name_out, 'w') as f:
            json.dump(coco, f)

    rename('instances_val.json', osp.join(root, 'annotations', 'instances_val2017.json'))
    rename('instances_train.json', osp.join(root, 'annotations', 'instances_train2017.json'))
    from mtkit.generate.coco_split import write_splits
    write_splits(osp.join(root, 'annotations', 'instances_train2017.json'), [1, 5, 10], [1],
                 osp.join(root, 'semi_anns'))
    return root


@pytest.fixture(scope='session')
def tiny_cityscapes(tmp_path_factory, digitscenes):
    """The tiny DigitScenes segmentation laid out like data/cityscapes: train ids 0-10 of the
    19 Cityscapes classes, ``*_gtFine_labelIds.png`` and ``*_instanceIds.png`` beside them (for
    CityscapesMetric) and the
    split lists 1/16 .. 1/2 under ``splits/``."""
    import numpy as np
    from PIL import Image
    root = str(tmp_path_factory.mktemp('cityscapes'))
    shutil.copytree(osp.join(digitscenes, 'cityscapes'), root, dirs_exist_ok=True)
    try:
        from cityscapesscripts.helpers.labels import trainId2label
    except ImportError:  # pragma: no cover
        trainId2label = None
    if trainId2label is not None:
        lut = np.zeros(256, np.uint8)  # ignore (255) -> 0 'unlabeled'
        for train_id, label in trainId2label.items():
            if 0 <= train_id < 255:
                lut[train_id] = label.id
        for dirpath, _, files in os.walk(osp.join(root, 'gtFine')):
            for name in files:
                if name.endswith('_gtFine_labelTrainIds.png'):
                    ids = lut[np.array(Image.open(osp.join(dirpath, name)))]
                    out = name.replace('_labelTrainIds.png', '_labelIds.png')
                    Image.fromarray(ids).save(osp.join(dirpath, out))
                    # no instance ids (< 1000): the instance-level scores count pixels only
                    out = name.replace('_labelTrainIds.png', '_instanceIds.png')
                    Image.fromarray(ids.astype(np.uint16)).save(osp.join(dirpath, out))
    return root


@pytest.fixture(scope='session')
def tiny_digitsc(tmp_path_factory, digitscenes):
    """DigitsC made from the tiny DigitScenes: clean crops and two corrupted test domains at
    severities 1 and 5."""
    from mtkit.generate.digitsc import write_digitsc
    root = str(tmp_path_factory.mktemp('digitsc'))
    write_digitsc(digitscenes, root, severities=(1, 5), corruptions=('fog', 'gaussian_noise'))
    return root


@pytest.fixture(scope='session')
def digitscenes_fog(tmp_path_factory):
    """A tiny DigitScenes-Fog (64 px, severities 1 and 5): returns its root folder."""
    from mtkit.generate.digitscenes_fog import DigitScenesFogConfig, generate_fog
    root = str(tmp_path_factory.mktemp('digitscenes_fog'))
    generate_fog(root, DigitScenesFogConfig(num_images=dict(train=8, val=3, test=2),
                                            severities=(1, 5), img_size=64))
    return root
