"""What mtkit checks before and while a run starts: the data of a config (tools/check_data.py,
tools/train.py --check-data), the datasets' classes against the model's heads
(ClassesCheckHook), and a checkpoint against the model it is tested with (tools/test.py)."""
import json
import os.path as osp
import shutil
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from conftest import REPO
from helpers import point_digitscenes, small_run_cfg
from mtkit.utils.errors import ConfigKeyError

sys.path.insert(0, REPO)
DEMO = osp.join(REPO, 'configs/mean_teacher/mt_yolox-tiny_digitscenes-demo.py')
SEG = osp.join(REPO, 'configs/supervised/fcn-r18-d8_digitscenes-seg.py')


def _demo_cfg(root, work_dir):
    cfg = small_run_cfg(point_digitscenes(Config.fromfile(DEMO), root), str(work_dir),
                        max_iters=1)
    cfg.train_dataloader.batch_size = cfg.train_dataloader.sampler.batch_size = 2
    return cfg


def _set_classes(obj, classes):
    """Every dataset's metainfo.classes in a config dict."""
    if isinstance(obj, dict):
        return {k: (dict(v, classes=classes) if k == 'metainfo' else _set_classes(v, classes))
                for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_set_classes(v, classes) for v in obj)
    return obj


# ------------------------------------------------------------------ data check
def test_box_and_label_checks_by_hand():
    from mtkit.datasets.data_check import check_boxes, check_label_values
    boxes = [dict(bbox=[0, 0, 10, 10], bbox_label=0), dict(bbox=[5, 5, 5, 9], bbox_label=1),
             dict(bbox=[0, 0, 70, 10], bbox_label=2), dict(bbox=[0, 0, float('nan'), 3]),
             dict(bbox=[1, 1, 2, 2], bbox_label=10)]
    assert check_boxes(boxes, 64, 64, 10) == [
        'box 1 [5, 5, 5, 9] is empty (x2 <= x1 or y2 <= y1)',
        'box 2 [0, 0, 70, 10] leaves the 64x64 image',
        'box 3 [0, 0, nan, 3] is not finite',
        'box 4 has label 10, not in [0, 10)']
    assert check_label_values([0, 3, 255], 4, 255) == []
    assert check_label_values([0, 4, 7, 255], 4, 255) == [
        'label values [4, 7] are neither a class (0..3) nor ignore_index 255']
    assert check_label_values([4], 4, 255, reduce_zero_label=True) == []


@pytest.fixture
def damaged(digitscenes, tmp_path):
    """A copy of the tiny DigitScenes COCO tree with a truncated train image, a val image that
    is not an image, an annotation with a negative width and an image whose size is wrong in
    the annotation file."""
    root = tmp_path / 'ds'
    shutil.copytree(osp.join(digitscenes, 'coco'), root / 'coco')
    ann_dir = root / 'coco' / 'annotations'
    labeled = json.loads((ann_dir / 'instances_train.1@10.json').read_text())
    unlabeled = json.loads((ann_dir / 'instances_train.1@10-unlabeled.gt.json').read_text())
    truncated = root / 'coco' / 'train' / unlabeled['images'][0]['file_name']
    truncated.write_bytes(truncated.read_bytes()[:60])
    val = json.loads((ann_dir / 'instances_val.json').read_text())
    garbage = root / 'coco' / 'val' / val['images'][1]['file_name']
    garbage.write_text('not a png')
    x, y, w, h = labeled['annotations'][0]['bbox']
    labeled['annotations'][0]['bbox'] = [x + w, y, -w, h]
    (ann_dir / 'instances_train.1@10.json').write_text(json.dumps(labeled))
    unlabeled['images'][1]['width'] = 99
    (ann_dir / 'instances_train.1@10-unlabeled.gt.json').write_text(json.dumps(unlabeled))
    return dict(root=str(root), truncated=str(truncated), garbage=str(garbage),
                resized=unlabeled['images'][1]['file_name'],
                bad_ann=labeled['annotations'][0]['id'])


def test_check_data_finds_every_damaged_file(damaged, digitscenes, tmp_path, capsys):
    from tools import check_data
    cfg = _demo_cfg(damaged['root'], tmp_path / 'wd')
    cfg_file = str(tmp_path / 'cfg.py')
    cfg.dump(cfg_file)
    assert check_data.main([cfg_file, '--workers', '2']) == 1
    out = capsys.readouterr().out
    assert f"[train] {damaged['truncated']}: cannot be decoded" in out, out
    assert f"[val] {damaged['garbage']}: cannot be decoded" in out
    assert f"{damaged['resized']}: is 64x64 but its annotation says 99x64" in out
    assert (f"instances_train.1@10.json: 1 box(es) with width or height below 1 pixel "
            f"(annotation ids [{damaged['bad_ann']}])") in out
    assert '4 problem(s):' in out
    clean = _demo_cfg(digitscenes, tmp_path / 'wd2')
    clean.dump(cfg_file)
    assert check_data.main([cfg_file, '--workers', '1', '--splits', 'train', 'val']) == 0
    out = capsys.readouterr().out
    assert 'no problem found' in out and 'train: 24 image(s)' in out, out


def test_train_with_check_data_stops_before_the_runner(damaged, tmp_path, capsys):
    from tools import train
    cfg = _demo_cfg(damaged['root'], tmp_path / 'wd')
    cfg_file = str(tmp_path / 'cfg.py')
    cfg.dump(cfg_file)
    with pytest.raises(SystemExit, match='--check-data: the data has problems'):
        train.main([cfg_file, '--check-data'])
    assert 'cannot be decoded' in capsys.readouterr().out
    assert not osp.exists(tmp_path / 'wd')  # no Runner was built


# ------------------------------------------------------------------ classes vs heads
def test_head_num_classes_finds_the_classifying_heads(tmp_path):
    from mmdet.registry import MODELS as DET_MODELS
    from mmseg.registry import MODELS as SEG_MODELS

    from mtkit.utils.classes import check_classes, head_num_classes
    (tmp_path / 'frcnn.py').write_text(
        "_base_ = ['mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py']\n")
    frcnn = Config.fromfile(str(tmp_path / 'frcnn.py')).model
    frcnn.backbone.init_cfg = None
    with DefaultScope.overwrite_default_scope('mmdet'):
        heads = head_num_classes(DET_MODELS.build(frcnn))
    assert heads == {'roi_head.bbox_head': 80}  # the RPN head's 1 class is not one
    seg = Config.fromfile(SEG).model
    with DefaultScope.overwrite_default_scope('mmseg'):
        heads = head_num_classes(SEG_MODELS.build(seg))
    assert set(heads) >= {'decode_head'} and set(heads.values()) == {11}
    check_classes(['c'] * 11, heads, 'x')
    with pytest.raises(ConfigKeyError, match=r"val_dataloader dataset 'a.json' has 3 classes "
                                             r"\['a', 'b', 'c'\] \(its metainfo.classes\), but "
                                             r"the model's heads have decode_head.num_classes="
                                             r"11"):
        check_classes(['a', 'b', 'c'], heads, "val_dataloader dataset 'a.json'")


@pytest.mark.slow
def test_classes_of_the_data_and_the_head_are_compared_before_training(digitscenes, tmp_path):
    """3 of the 10 names with a 10-class head trained, then failed at the first validation
    with a bare IndexError in CocoMetric; now the Runner stops before the first iteration."""
    from mmengine.runner import Runner
    cfg = _demo_cfg(digitscenes, tmp_path / 'wd')
    cfg = Config(_set_classes(cfg._cfg_dict.to_dict(), ('zero', 'one', 'two')))
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ConfigKeyError, match=r"train_dataloader dataset '.*instances_train\."
                                             r"1@10.json' has 3 classes \['zero', 'one', "
                                             r"'two'\] .* student.bbox_head.num_classes=10"):
        runner.train()
    assert runner.iter == 0


# ------------------------------------------------------------------ tools/test.py
@pytest.mark.slow
def test_tools_test_refuses_a_checkpoint_of_another_model(digitscenes, tmp_path):
    """A segmentation checkpoint on the detection config reported teacher mAP 0.0 from random
    weights with exit code 0; a plain detector checkpoint (the converged start) still fits
    the mean-teacher wrapper, and --allow-partial-load evaluates anyway."""
    from mmdet.registry import MODELS as DET_MODELS
    from mmseg.registry import MODELS as SEG_MODELS

    from helpers import detector_of
    from mtkit.utils.state_match import check_checkpoint_fits
    from tools import test as test_tool
    cfg = _demo_cfg(digitscenes, tmp_path / 'wd')
    cfg.test_dataloader.batch_size = 6
    cfg_file = str(tmp_path / 'cfg.py')
    cfg.dump(cfg_file)
    with DefaultScope.overwrite_default_scope('mmseg'):
        seg = SEG_MODELS.build(Config.fromfile(SEG).model)
    seg_ckpt = str(tmp_path / 'seg.pth')
    torch.save(dict(state_dict=seg.state_dict(), meta=dict()), seg_ckpt)
    with pytest.raises(ConfigKeyError, match=rf"checkpoint {seg_ckpt} does not fit the model of "
                                             rf"the config: \d+ of the model's \d+ tensors are "
                                             rf"not in the checkpoint .*--allow-partial-load") as e:
        test_tool.main([cfg_file, seg_ckpt, '--work-dir', str(tmp_path / 't1')])
    # the wrapper spreads the plain checkpoint over student and teacher: each unused tensor of
    # the checkpoint is counted once
    n_seg = len(seg.state_dict())
    assert f'of its {n_seg} tensors are not in the model' in str(e.value)
    unused = int(str(e.value).split(f' of its {n_seg} tensors')[0].rsplit(' ', 1)[-1])
    assert 0 < unused <= n_seg
    with DefaultScope.overwrite_default_scope('mmdet'):
        det = DET_MODELS.build(detector_of(cfg))
        wrapper = DET_MODELS.build(cfg.model)
    check_checkpoint_fits(wrapper, dict(state_dict=det.state_dict()), 'det.pth')  # no error
    metrics = test_tool.main([cfg_file, seg_ckpt, '--work-dir', str(tmp_path / 't3'),
                              '--allow-partial-load'])
    assert 'teacher/coco/bbox_mAP' in metrics


def test_a_shape_mismatch_is_named():
    from mtkit.utils.state_match import check_checkpoint_fits
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Linear(2, 1))
    state = model.state_dict()
    check_checkpoint_fits(model, dict(state_dict=state), 'ok.pth')
    bad = dict(state, **{'1.weight': torch.zeros(1, 5)})
    with pytest.raises(ConfigKeyError, match=r"checkpoint b.pth does not fit the model of the "
                                             r"config: 1 have another shape \(e.g. size "
                                             r"mismatch for 1.weight"):
        check_checkpoint_fits(model, dict(state_dict=bad), 'b.pth')
    extra = {f'module.{k}': v for k, v in state.items()}  # DDP's prefix is stripped
    extra['2.weight'] = torch.zeros(1)
    with pytest.raises(ConfigKeyError, match=r"1 of its 5 tensors are not in the model "
                                             r"\(e.g. \['2.weight'\]\)"):
        check_checkpoint_fits(model, extra, 'c.pth')
