"""mtkit.CheckedCocoDataset: what mmdet's CocoDataset drops silently is counted and named."""
import json
import os.path as osp
import uuid

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
def run_log(tmp_path):
    """The text of a run's log file: the reports go to MMEngine's current logger (a Runner's
    logger during training), so they are in the log file, not on stderr only."""
    from mmengine.logging import MMLogger
    path = tmp_path / 'run.log'
    logger = MMLogger.get_instance(f'checked_coco_{uuid.uuid4().hex}', log_file=str(path))

    def read() -> str:
        for h in logger.handlers:
            h.flush()
        return path.read_text()
    return read


@pytest.fixture
def train_json(digitscenes):
    with open(osp.join(digitscenes, 'coco', 'annotations', 'instances_train.json')) as f:
        return json.load(f)


def test_unknown_category_ids_are_counted_and_named(digitscenes, tmp_path, train_json, run_log):
    data = dict(train_json)
    data['categories'] = train_json['categories'] + [dict(id=99, name='ten')]
    anns = [dict(a) for a in train_json['annotations']]
    for a in anns[:3]:
        a['category_id'] = 99
    data['annotations'] = anns
    ann = _write(tmp_path, data)
    ds = _dataset(digitscenes, ann)
    assert len(ds) > 0
    assert (f"WARNING - CheckedCocoDataset '{ann}': 3 annotation(s) have a category_id that is "
            f"not one of the 10 classes and are dropped: ids (count) 99 (3)") in run_log()
    with pytest.raises(ConfigKeyError, match=f"CheckedCocoDataset '{ann}': 3 annotation"):
        _dataset(digitscenes, ann, unknown_categories='error')
    _dataset(digitscenes, ann, unknown_categories='ignore')  # mmdet's silence, on request
    with pytest.raises(ConfigKeyError, match='unknown_categories must be one of'):
        _dataset(digitscenes, ann, unknown_categories='drop')


def test_a_class_without_boxes_and_missing_categories(digitscenes, tmp_path, train_json,
                                                      run_log):
    data = dict(train_json)
    data['annotations'] = [a for a in train_json['annotations'] if a['category_id'] != 7]
    seven = next(c['name'] for c in train_json['categories'] if c['id'] == 7)
    _dataset(digitscenes, _write(tmp_path, data))
    assert f"class(es) ['{seven}'] have no annotation" in run_log()
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


def test_invalid_boxes_are_counted_and_named_in_the_log(digitscenes, tmp_path, train_json,
                                                        run_log):
    """Boxes mmdet drops (negative width, outside the image, zero area) were dropped without a
    word; now counted per reason with annotation ids, 'error' makes them fatal."""
    from mtkit.datasets.checked_coco import invalid_box_reason
    anns = [dict(a) for a in train_json['annotations']]
    for a in anns[:4]:
        x, y, w, h = a['bbox']
        a['bbox'] = [x + w, y, -w, h]  # negative width
    anns[4]['bbox'] = [1000.0, 1000.0, 5.0, 5.0]  # outside the 64 px image
    anns[5]['area'] = 0
    anns[6]['ignore'] = True
    anns[6]['bbox'] = [0, 0, -1, -1]  # an ignore annotation is meant to be left out
    ann = _write(tmp_path, dict(train_json, annotations=anns))
    ds = _dataset(digitscenes, ann)
    kept = sum(len(ds.get_data_info(i)['instances']) for i in range(len(ds)))
    assert kept == len(anns) - 7
    log = run_log()
    assert f"CheckedCocoDataset '{ann}': 6 box(es) of {len(anns)} are invalid and are dropped" \
        in log, log
    ids = [a['id'] for a in anns[:4]]
    assert f"4 with width or height below 1 pixel (annotation ids {ids})" in log
    assert f"1 entirely outside the image (annotation ids [{anns[4]['id']}])" in log
    assert f"1 with area <= 0 (annotation ids [{anns[5]['id']}])" in log
    with pytest.raises(ConfigKeyError, match=r"6 box\(es\) of .*\(invalid_boxes='ignore'"):
        _dataset(digitscenes, ann, invalid_boxes='error')
    anns[7]['bbox'] = [1, 2, 3]
    with pytest.raises(ConfigKeyError, match=rf"'{tmp_path}/b.json': annotation "
                                             rf"{anns[7]['id']} \(image_id \d+\) has bbox "
                                             rf"\[1, 2, 3\]; expected \[x, y, width, height\]"):
        _dataset(digitscenes, _write(tmp_path, dict(train_json, annotations=anns), 'b.json'))
    assert invalid_box_reason(dict(bbox=[0, 0, 10, 10], area=100), 64, 64) is None
    with pytest.raises(ConfigKeyError, match='invalid_boxes must be one of'):
        _dataset(digitscenes, ann, invalid_boxes='drop')
