"""tools/split_coco.py and its pure core."""
import json
import os.path as osp
import subprocess
import sys

import pytest

from conftest import REPO
from mtkit.generate.coco_split import (SplitError, labeled_count, load_coco, split_coco,
                                       split_names, write_splits)


def _coco(n=50):
    return dict(images=[dict(id=i, file_name=f'{i}.png') for i in range(1, n + 1)],
                annotations=[dict(id=10 * i + k, image_id=i, category_id=1)
                             for i in range(1, n + 1) for k in range(i % 3)],
                categories=[dict(id=1, name='a')])


@pytest.mark.parametrize('n,percent,expected', [(50, 10, 5), (2000, 1, 20), (2000, 5, 100),
                                                (118287, 1, 1183), (7, 50, 4), (3, 1, 1)])
def test_exact_counts(n, percent, expected):
    assert labeled_count(n, percent) == expected
    lab, unl, gt = split_coco(_coco(n), percent, fold=1)
    assert len(lab['images']) == expected
    assert len(unl['images']) == n - expected


def test_disjoint_complete_and_reproducible():
    coco = _coco(50)
    lab, unl, gt = split_coco(coco, 10, fold=1)
    lab_ids = {im['id'] for im in lab['images']}
    unl_ids = {im['id'] for im in unl['images']}
    assert not lab_ids & unl_ids and lab_ids | unl_ids == set(range(1, 51))
    assert all(a['image_id'] in lab_ids for a in lab['annotations'])
    assert unl['annotations'] == []
    assert len(gt['annotations']) + len(lab['annotations']) == len(coco['annotations'])
    assert split_coco(coco, 10, fold=1)[0] == lab
    other = {im['id'] for im in split_coco(coco, 10, fold=2)[0]['images']}
    assert other != lab_ids
    assert lab['categories'] == coco['categories']


def test_file_names_and_writer(tmp_path):
    ann = tmp_path / 'instances_train2017.json'
    ann.write_text(json.dumps(_coco(20)))
    written = write_splits(str(ann), [10, 50], [1, 2], str(tmp_path / 'semi'))
    assert len(written) == 12
    names = split_names('instances_train2017', 10, 2)
    assert names['labeled'] == 'instances_train2017.2@10.json'
    assert names['unlabeled'] == 'instances_train2017.2@10-unlabeled.json'
    lab = json.loads((tmp_path / 'semi' / names['labeled']).read_text())
    assert len(lab['images']) == 2


def test_errors(tmp_path):
    with pytest.raises(SplitError, match='not found: .*missing.json'):
        load_coco(str(tmp_path / 'missing.json'))
    bad = tmp_path / 'bad.json'
    bad.write_text(json.dumps(dict(annotations=[])))
    with pytest.raises(SplitError, match='expected a COCO dict with an "images" list'):
        load_coco(str(bad))
    empty = tmp_path / 'empty.json'
    empty.write_text(json.dumps(dict(images=[])))
    with pytest.raises(SplitError, match='"images" list is empty'):
        load_coco(str(empty))
    broken = tmp_path / 'broken.json'
    broken.write_text('{"images": [')
    with pytest.raises(SplitError, match='not valid JSON'):
        load_coco(str(broken))
    for p in (0, 100, 150, -1):
        with pytest.raises(SplitError, match=r'percent must be in \(0, 100\)'):
            labeled_count(10, p)


@pytest.mark.slow
def test_cli_reports_errors_and_writes(tmp_path):
    """The errors in-process (main(argv) exits naming the problem), the CLI in a process."""
    sys.path.insert(0, osp.join(REPO, 'tools'))
    import split_coco
    ann = tmp_path / 'a.json'
    ann.write_text(json.dumps(_coco(10)))
    for argv, message in (([str(ann), '--percent', '120'], 'percent must be in (0, 100), got 120'),
                          ([str(tmp_path / 'nope.json'), '--percent', '10'], 'not found')):
        with pytest.raises(SystemExit) as exit_info:
            split_coco.main(argv)
        assert message in str(exit_info.value.code)
    tool = osp.join(REPO, 'tools', 'split_coco.py')
    r = subprocess.run([sys.executable, tool, str(ann), '--percent', '10', '--fold', '3'],
                       capture_output=True, text=True, check=True)
    assert osp.isfile(tmp_path / 'a.3@10.json')
