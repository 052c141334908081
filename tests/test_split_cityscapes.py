"""Cityscapes-layout splits: counts, determinism, disjointness, mmseg reads them, errors."""
import os
import os.path as osp
import shutil
from fractions import Fraction

import pytest

from mtkit.generate.cityscapes_split import (SplitError, list_images, parse_fraction,
                                             split_cityscapes, write_cityscapes_splits)
from tools import split_cityscapes as tool


def test_split_counts_determinism_and_disjointness(digitscenes, tmp_path):
    root = osp.join(digitscenes, 'cityscapes')
    names = list_images(root)
    assert len(names) == 24 and names == sorted(names)
    paths = write_cityscapes_splits(root, ['1/8', '1/2'], [1, 2], out_dir=str(tmp_path))
    assert len(paths) == 8
    lab = (tmp_path / 'train.1@1_8.txt').read_text().split()
    unl = (tmp_path / 'train.1@1_8-unlabeled.txt').read_text().split()
    assert len(lab) == 3 and len(unl) == 21  # round(24 / 8)
    assert not set(lab) & set(unl) and sorted(lab + unl) == names
    assert len((tmp_path / 'train.1@1_2.txt').read_text().split()) == 12
    again = split_cityscapes(names, Fraction(1, 8), 1)
    assert again[0] == lab  # same seed, same split
    assert split_cityscapes(names, Fraction(1, 8), 2)[0] != lab


def test_mmseg_reads_the_lists(digitscenes, tmp_path):
    from mmseg.datasets import CityscapesDataset
    root = osp.join(digitscenes, 'cityscapes')
    write_cityscapes_splits(root, ['1/4'], [1], out_dir=str(tmp_path))
    ds = CityscapesDataset(data_root=root, ann_file=str(tmp_path / 'train.1@1_4.txt'),
                           data_prefix=dict(img_path='leftImg8bit/train',
                                            seg_map_path='gtFine/train'),
                           pipeline=[], serialize_data=False)
    assert len(ds) == 6
    info = ds[0]
    assert osp.isfile(info['img_path']) and osp.isfile(info['seg_map_path'])


def test_errors_name_the_problem(digitscenes, tmp_path, capsys):
    with pytest.raises(SplitError, match=r"fraction must be in \(0, 1\), got '3/2'"):
        parse_fraction('3/2')
    with pytest.raises(SplitError, match='must look like 1/16'):
        parse_fraction('a sixteenth')
    with pytest.raises(SplitError, match='no image folder leftImg8bit/train'):
        list_images(str(tmp_path))
    root = tmp_path / 'cs'
    shutil.copytree(osp.join(digitscenes, 'cityscapes'), root)
    seg = root / 'gtFine' / 'train' / 'digitville' / 'digitville_000000_000002_gtFine_labelTrainIds.png'
    os.remove(seg)
    with pytest.raises(SplitError, match='digitville_000000_000002_leftImg8bit.png has no label '
                       'map'):
        list_images(str(root))
    with pytest.raises(SystemExit, match='split_cityscapes: fraction must be in'):
        tool.main([str(root), '--fraction', '0'])
