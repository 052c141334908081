"""Test-time adaptation of an mmseg segmentor: the wrapper, pixel prototypes, the mIoU meter
against mmseg's IoUMetric, and tools/tta.py on a real (tiny) DigitScenes-C stream."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from conftest import REPO
from test_seg_configs import tiny_cfg

CFG = osp.join(REPO, 'configs/tta/source_fcn-r18-d8_digitscenes-seg.py')


def _segmentor(head: str = 'fcn'):
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    norm = dict(type='BN', requires_grad=True)
    backbone = dict(type='ResNetV1c', depth=18, num_stages=4, out_indices=(0, 1, 2, 3),
                    dilations=(1, 1, 2, 4), strides=(1, 2, 1, 1), norm_cfg=norm,
                    contract_dilation=True)
    if head == 'fcn':
        decode = dict(type='FCNHead', in_channels=512, in_index=3, channels=32, num_convs=1,
                      num_classes=5, norm_cfg=norm)
    else:  # DeepLabV3+: its head has no _forward_feature
        decode = dict(type='DepthwiseSeparableASPPHead', in_channels=512, in_index=3,
                      channels=32, dilations=(1, 2), c1_in_channels=64, c1_channels=8,
                      num_classes=5, norm_cfg=norm)
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmseg'):
        return MODELS.build(dict(type='EncoderDecoder', backbone=backbone, decode_head=decode,
                                 data_preprocessor=dict(type='SegDataPreProcessor'),
                                 test_cfg=dict(mode='whole')))


@pytest.mark.parametrize('head', ['fcn', 'sep_aspp'])
def test_segmentor_wrapper_splits_features_and_classifier(head):
    from mtkit.tta.segmentor import TTASegmentor
    torch.manual_seed(0)
    seg = _segmentor(head).eval()
    model = TTASegmentor(seg)
    x = torch.randn(2, 3, 32, 32)
    feats = model.extract_feat(x)
    side = 4 if head == 'fcn' else 8  # DeepLabV3+ decodes at the stride-4 level
    assert feats.shape == (2, 32, side, side)
    assert model.feat_dim == 32 and model.num_classes == 5
    logits = model.head(feats)
    assert logits.shape == (2, 5, side, side)
    # features + classifier = the decode head's own forward
    torch.testing.assert_close(logits, seg.decode_head(seg.extract_feat(x)))
    assert 'cls_seg' not in vars(seg.decode_head)  # the bypass is undone
    assert model.upsample(logits, (32, 32)).shape == (2, 5, 32, 32)
    with pytest.raises(TypeError, match='EncoderDecoder'):
        TTASegmentor(torch.nn.Linear(2, 2))


def test_pixel_prototypes_by_hand():
    from mtkit.tta.methods import source_prototypes

    class Fixed(torch.nn.Module):
        def extract_feat(self, x):
            # (1, 2, 2, 2): feature d at cell (i, j) = x[0, d, 2i, 2j]
            return x[:, :2, ::2, ::2]

    x = torch.zeros(1, 3, 4, 4)
    x[0, 0, ::2, ::2] = torch.tensor([[1., 2.], [3., 4.]])
    x[0, 1, ::2, ::2] = torch.tensor([[10., 20.], [30., 40.]])
    # labels at full size; nearest to 2 x 2 reads rows/cols 0 and 2
    y = torch.full((1, 4, 4), 255)
    y[0, 0, 0], y[0, 0, 2], y[0, 2, 0], y[0, 2, 2] = 0, 1, 1, 255
    protos = source_prototypes(Fixed(), [(x, y)], num_classes=2)
    torch.testing.assert_close(protos, torch.tensor([[1., 10.], [2.5, 25.]]))
    y[0, 0, 0] = 1  # class 0 has no pixel left: named
    with pytest.raises(ValueError, match=r'class\(es\) \[0\]'):
        source_prototypes(Fixed(), [(x, y)], num_classes=2)


def test_iou_meter_matches_hand_and_mmseg():
    from mmseg.evaluation import IoUMetric
    from mtkit.tta.stream import IoUMeter
    labels = torch.tensor([[[0, 0, 1, 1], [0, 2, 2, 255]]])
    pred = torch.tensor([[[0, 1, 1, 1], [0, 2, 0, 1]]])
    logits = torch.nn.functional.one_hot(pred, 3).permute(0, 3, 1, 2).float()
    meter = IoUMeter(3)
    meter.update(logits, labels)
    # class 0: inter 2, union 4; class 1: inter 2, union 3; class 2: inter 1, union 2
    assert meter.value() == pytest.approx(100 * (2 / 4 + 2 / 3 + 1 / 2) / 3)
    metric = IoUMetric(iou_metrics=['mIoU'])
    metric.dataset_meta = dict(classes=('a', 'b', 'c'))
    res = metric.compute_metrics([IoUMetric.intersect_and_union(pred[0], labels[0], 3, 255)])
    assert meter.value() == pytest.approx(res['mIoU'], abs=0.01)
    # logits at a lower resolution are resized to the labels first
    meter2 = IoUMeter(3)
    meter2.update(logits[..., ::2, ::2], labels)
    assert 0.0 <= meter2.value() <= 100.0


def test_rmt_samples_the_same_pixels_of_both_views():
    from mtkit.tta.methods import RMT
    from mtkit.tta.segmentor import TTASegmentor
    rmt = RMT(TTASegmentor(_segmentor()), num_pixels=7)
    a = torch.randn(2, 4, 3, 3)
    pa, pb = rmt.sample_pixels(a, a.clone())
    assert pa.shape == (7, 4)
    torch.testing.assert_close(pa, pb)
    # every sampled row is one pixel's feature vector
    pixels = a.permute(0, 2, 3, 1).reshape(-1, 4)
    assert all(any(torch.equal(r, p) for p in pixels) for r in pa)


@pytest.fixture(scope='module')
def seg_source(digitscenes, tiny_cityscapes, tmp_path_factory):
    """A 2-iteration source FCN on the tiny DigitScenes segmentation and a tiny DigitScenes-C
    (fog and Gaussian noise at severity 5, 6 test images)."""
    from mtkit.generate.digitscenes_c import write_digitscenes_c
    work = str(tmp_path_factory.mktemp('seg_source'))
    cfg = tiny_cfg(CFG, digitscenes, tiny_cityscapes, work)
    Runner.from_cfg(cfg).train()
    dsc = str(tmp_path_factory.mktemp('digitscenes_c'))
    meta = write_digitscenes_c(osp.join(digitscenes, 'cityscapes'), dsc,
                               corruptions=('fog', 'gaussian_noise'), max_images=6)
    assert meta['domains'] == ['fog-5', 'gaussian_noise-5'] and meta['images'] == 6
    cfg.tta.test_dataset.data_root = dsc
    cfg.tta.batch_size = 2
    cfg.tta.source_batches = 12  # the 24 tiny train images: every class has pixels
    cfg.tta.methods.cotta.num_aug = 2
    path = osp.join(work, 'tta_cfg.py')
    cfg.dump(path)
    return path, osp.join(work, 'iter_2.pth')


def run_tta(cfg, ckpt, *args):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([REPO, os.environ['PYTHONPATH']]))
    return subprocess.run([sys.executable, osp.join(REPO, 'tools/tta.py'), cfg, ckpt, *args,
                           '--device', 'cpu'], capture_output=True, text=True, env=env,
                          cwd=REPO)


@pytest.mark.slow
def test_segmentation_stream_with_every_method(seg_source, tmp_path):
    cfg, ckpt = seg_source
    out = str(tmp_path / 'r.json')
    methods = sorted(Config.fromfile(cfg).tta.methods)
    assert methods == ['bn', 'cotta', 'rmt', 'rmt_replay', 'source', 'tent']
    proc = run_tta(cfg, ckpt, '--method', *methods, '--out', out,
                   '--domains', 'fog-5', 'gaussian_noise-5')
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.load(open(out))
    for name, res in results.items():
        assert list(res['miou']) == ['fog-5', 'gaussian_noise-5'], name
        assert all(0.0 <= v <= 100.0 for v in res['miou'].values())
        assert res['mean_miou'] == pytest.approx(sum(res['miou'].values()) / 2)
        assert res['images'] == 12 and res['images_per_s'] > 0 and 'errors' not in res
    assert 'mean mIoU' in proc.stdout


@pytest.mark.slow
def test_segmentation_batch_of_one_and_class_mismatch(seg_source, tmp_path):
    cfg, ckpt = seg_source
    one = Config.fromfile(cfg)
    one.tta.batch_size = 1
    one.tta.source_batches = 24
    path = str(tmp_path / 'one.py')
    one.dump(path)
    # in-process through tools/tta.py's main (the stream test above runs the CLI)
    sys.path.insert(0, osp.join(REPO, 'tools'))
    import tta
    tta.main([path, ckpt, '--method', 'bn', 'rmt', '--domains', 'fog-5',
              '--out', str(tmp_path / 'one.json'), '--device', 'cpu'])
    res = json.load(open(tmp_path / 'one.json'))
    assert all(r['images'] == 6 and r['batch_size'] == 1 for r in res.values())
    bad = Config.fromfile(cfg)
    bad.model.decode_head.num_classes = 7
    path = str(tmp_path / 'bad.py')
    bad.dump(path)
    with pytest.raises(Exception, match=r'decode_head.conv_seg.weight\) has 11 classes') as err:
        tta.main([path, ckpt, '--method', 'source', '--out', str(tmp_path / 'bad.json'),
                  '--device', 'cpu'])
    assert 'num_classes=7' in str(err.value)
