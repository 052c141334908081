"""mtkit.CheckedCocoDataset: what mmdet's CocoDataset drops silently is counted and named."""
import json
import os.path as osp

import pytest
from mmengine.registry import DefaultScope

from mtkit.registry import DATASETS
from mtkit.utils.errors import ConfigKeyError

CLASSES = ('zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine')


def _dataset(root, ann, **kwargs):
    with DefaultScope.overwrite_default_scope('mmdet'):
        return DATASETS.build(dict(type='mtkit.CheckedCocoDataset',
                                   data_root=osp.join(root, 'coco'), ann_file=ann,
                                   data_prefix=dict(img='train/'),
                                   metainfo=dict(classes=CLASSES), pipeline=[], **kwargs))


def _write(tmp_path, data, name='ann.json'):
    path = str(tmp_path / name)
    with open(path, 'w') as f:
        json.dump(data, f)
    return path


@pytest.fixture
def train_json(digitscenes):
    with open(osp.join(digitscenes, 'coco', 'annotations', 'instances_train.json')) as f:
        return json.load(f)


def test_unknown_category_ids_are_counted_and_named(digitscenes, tmp_path, train_json):
    data = dict(train_json)
    data['categories'] = train_json['categories'] + [dict(id=99, name='ten')]
    anns = [dict(a) for a in train_json['annotations']]
    for a in anns[:3]:
        a['category_id'] = 99
    data['annotations'] = anns
    ann = _write(tmp_path, data)
    with pytest.warns(UserWarning, match=r"3 annotation\(s\) have a category_id that is not one "
                                         r"of the 10 classes and are dropped: ids \(count\) "
                                         r"99 \(3\)"):
        ds = _dataset(digitscenes, ann)
    assert len(ds) > 0
    with pytest.raises(ConfigKeyError, match=f"CheckedCocoDataset '{ann}': 3 annotation"):
        _dataset(digitscenes, ann, unknown_categories='error')
    _dataset(digitscenes, ann, unknown_categories='ignore')  # mmdet's silence, on request
    with pytest.raises(ConfigKeyError, match='unknown_categories must be one of'):
        _dataset(digitscenes, ann, unknown_categories='drop')


def test_a_class_without_boxes_and_missing_categories(digitscenes, tmp_path, train_json):
    data = dict(train_json)
    data['annotations'] = [a for a in train_json['annotations'] if a['category_id'] != 7]
    seven = next(c['name'] for c in train_json['categories'] if c['id'] == 7)
    with pytest.warns(UserWarning, match=f"class\\(es\\) \\['{seven}'\\] have no annotation"):
        _dataset(digitscenes, _write(tmp_path, data))
    data['categories'] = [c for c in train_json['categories'] if c['id'] != 7]
    with pytest.raises(ConfigKeyError, match=f"has no category named \\['{seven}'\\]"):
        _dataset(digitscenes, _write(tmp_path, data, 'b.json'))


def test_an_empty_split_is_named(digitscenes, tmp_path, train_json):
    ann = _write(tmp_path, dict(train_json, images=[], annotations=[]))
    with pytest.raises(ConfigKeyError, match=f"'{ann}' has no image: an empty split"):
        _dataset(digitscenes, ann)


def test_labeled_and_unlabeled_splits_must_be_disjoint(digitscenes, tmp_path, train_json):
    images = train_json['images']

    def split(name, imgs):
        ids = {i['id'] for i in imgs}
        return _write(tmp_path, dict(train_json, images=imgs, annotations=[
            a for a in train_json['annotations'] if a['image_id'] in ids]), name)

    labeled = split('labeled.json', images[:6])
    unlabeled = split('unlabeled.json', images[6:])
    ds = _dataset(digitscenes, unlabeled, disjoint_from=labeled, unknown_categories='ignore')
    assert len(ds) == len(images) - 6
    overlapping = split('overlap.json', images[4:])  # images 4 and 5 are in both
    names = sorted(i['file_name'] for i in images[4:6])
    with pytest.raises(ConfigKeyError, match=rf"2 image\(s\) are in both '{overlapping}' and "
                                             rf"'{labeled}' \(e\.g\. \['.*/train/{names[0]}', "
                                             rf"'.*/train/{names[1]}'\]\)"):
        _dataset(digitscenes, overlapping, disjoint_from=labeled, unknown_categories='ignore')
    # the same file under another spelling and a new id is the same image
    respelled = split('respelled.json', images[6:] + [dict(images[0], id=10 ** 6, file_name=(
        './' + images[0]['file_name']))])
    with pytest.raises(ConfigKeyError, match=r"1 image\(s\) are in both"):
        _dataset(digitscenes, respelled, disjoint_from=labeled, unknown_categories='ignore')
    with pytest.raises(ConfigKeyError, match="disjoint_from: '.*nope.json' does not exist"):
        _dataset(digitscenes, unlabeled, disjoint_from=str(tmp_path / 'nope.json'))


def _concat(root, *members, **kwargs):
    def member(ann, **kw):
        return dict(type='mtkit.CheckedCocoDataset', data_root=osp.join(root, 'coco'),
                    ann_file=ann, data_prefix=dict(img='train/'), metainfo=dict(classes=CLASSES),
                    pipeline=[], unknown_categories='ignore', **kw)
    with DefaultScope.overwrite_default_scope('mmdet'):
        return DATASETS.build(dict(type='mtkit.DisjointConcatDataset',
                                   datasets=[m if isinstance(m, dict) and 'type' in m else
                                             member(m[0], **m[1]) if isinstance(m, tuple) else
                                             member(m)
                                             for m in members], **kwargs))


def test_disjoint_concat_compares_the_images_it_is_given(digitscenes, tmp_path, train_json):
    """The semi-supervised configs' training set: an override of the labeled ann_file that
    keeps the old disjoint_from, or no disjoint_from at all, cannot leak labeled images into
    the unlabeled set; nested wrappers (an extra unlabeled pool) are looked through."""
    images = train_json['images']

    def split(name, imgs):
        ids = {i['id'] for i in imgs}
        return _write(tmp_path, dict(train_json, images=imgs, annotations=[
            a for a in train_json['annotations'] if a['image_id'] in ids]), name)

    labeled, unlabeled = split('l.json', images[:6]), split('u.json', images[6:])
    full = split('full.json', images)
    ds = _concat(digitscenes, labeled, (unlabeled, dict(disjoint_from=labeled)))
    assert len(ds) == len(images)
    n = len(images) - 6
    with pytest.raises(ConfigKeyError, match=rf"DisjointConcatDataset: {n} image\(s\) are in both "
                                             rf"datasets\[0\] \('{full}'\) and datasets\[1\] "
                                             rf"\('{unlabeled}'\)"):
        _concat(digitscenes, full, unlabeled)
    # --cfg-options ...datasets.0.ann_file=full.json, the unlabeled set's disjoint_from kept
    with pytest.raises(ConfigKeyError, match=rf"datasets\[1\] \('{unlabeled}'\) has "
                                             rf"disjoint_from='{labeled}', but no other dataset "
                                             rf"reads that file"):
        _concat(digitscenes, split('l2.json', images[:3]),
                (unlabeled, dict(disjoint_from=labeled)))
    nested = dict(type='ConcatDataset', datasets=[
        dict(type='mtkit.CheckedCocoDataset', data_root=osp.join(digitscenes, 'coco'),
             ann_file=ann, data_prefix=dict(img='train/'), metainfo=dict(classes=CLASSES),
             pipeline=[], unknown_categories='ignore')
        for ann in (split('u1.json', images[6:9]), split('u2.json', images[2:3] + images[9:]))])
    with pytest.raises(ConfigKeyError, match=r"1 image\(s\) are in both datasets\[0\]"):
        _concat(digitscenes, labeled, nested, ignore_keys=['cumulative_sizes'])
    lazy = _concat(digitscenes, full, unlabeled, lazy_init=True)
    with pytest.raises(ConfigKeyError, match='are in both'):
        lazy.full_init()
