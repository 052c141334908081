"""Every shipped detection config builds and trains 2 iterations on tiny generated data, then
validates with the real CocoMetric; the 1% / 5% split variants are checked to equal their
trained 10% config up to the split files (segmentation configs: test_seg_configs.py)."""
import glob
import os.path as osp
import re

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from conftest import REPO
from helpers import replace_strings, shrink_resizes, small_run_cfg

ALL = sorted(c for c in glob.glob(osp.join(REPO, 'configs', '*', '*.py')) if '_base_' not in c)
SCOPES = {c: Config.fromfile(c).default_scope for c in ALL}
CONFIGS = [c for c in ALL if SCOPES[c] == 'mmdet']
# source-free adaptation (configs/sfod): trained and built in test_sfod.py /
# test_grounded_teacher.py on DigitScenes-Fog, from a source checkpoint
SOURCE_FREE = [c for c in CONFIGS if Config.fromfile(c).model.get(
    'semi_train_cfg', {}).get('labeled_branch') == 'none']


def test_every_config_is_covered():
    # detection configs here; segmentation in test_seg_configs.py, classification / TTA in
    # test_tta_tools.py / test_tta_seg.py, clips (configs/stable_teacher) in
    # test_stable_teacher_configs.py
    assert set(SCOPES.values()) == {'mmdet', 'mmseg', 'mmengine'}
    names = {osp.basename(c) for c in CONFIGS}
    assert 'mt_yolox-tiny_digitscenes-demo.py' in names
    assert {f'mt_{m}_r50_fpn_coco-{p}pct.py' for m in ('retinanet', 'faster-rcnn')
            for p in (1, 5, 10)} <= names


def _dataset_types(obj):
    if isinstance(obj, dict):
        if 'ann_file' in obj and 'type' in obj:
            yield obj['type']
        for v in obj.values():
            yield from _dataset_types(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _dataset_types(v)


def test_every_detection_dataset_is_checked():
    # mmdet's CocoDataset drops unknown category ids and empty images without a word; every
    # shipped detection config (DigitScenes and COCO) loads through mtkit.CheckedCocoDataset
    for path in CONFIGS:
        cfg = Config.fromfile(path)
        types = {t for key in ('train_dataloader', 'val_dataloader', 'test_dataloader')
                 for t in _dataset_types(cfg[key].to_dict())}
        assert types == {'mtkit.CheckedCocoDataset'}, (osp.basename(path), types)


def test_every_semi_supervised_training_set_refuses_shared_images():
    # the labeled and unlabeled sets are compared on the built datasets, so an override of
    # either ann_file is checked too; no config keeps a file-name check that could go stale
    for path in CONFIGS:
        cfg = Config.fromfile(path)
        if 'detector' not in cfg.model:
            continue
        if path in SOURCE_FREE:  # one unlabeled set, nothing to share images with
            assert cfg.train_dataloader.dataset.type == 'mtkit.CheckedCocoDataset', path
            continue
        assert cfg.train_dataloader.dataset.type == 'mtkit.DisjointConcatDataset', \
            osp.basename(path)
        assert 'disjoint_from' not in str(cfg.train_dataloader.to_dict()), osp.basename(path)


def test_model_zoo_metafile_points_at_real_configs():
    import yaml
    with open(osp.join(REPO, 'model_zoo', 'metafile.yml')) as f:
        meta = yaml.safe_load(f)
    collections = {c['Name'] for c in meta['Collections']}
    for model in meta['Models']:
        assert osp.isfile(osp.join(REPO, model['Config'])), model['Name']
        assert model['In Collection'] in collections, model['Name']
        assert model['Results'] and all(r['Metrics'] for r in model['Results']), model['Name']


# The COCO 1% / 5% and DigitScenes 1% configs differ from their 10% sibling only by the split
# files (and, for a converged start, the supervised checkpoint of that split), checked below;
# each (method, model) trains once, at 10% (an R50 detector costs ~40 s per run on CPU, a
# YOLOX-tiny ~30 s). The CPU-sized RetinaNet exists at 1% only: it trains here as it is.
SPLITS = re.compile(r'(?<!retinanet-r18w16)_(coco|digitscenes)-(1|5)pct(-converged|-plateau)?\.py$')
# Variants that only change the schedule, batch, labeled split, widths, filters or weights of
# the model (checked key by key below), not what a 2-iteration run exercises.
VARIANTS = {
    'supervised/yolox-tiny_digitscenes-10pct-plateau.py': (
        'supervised/yolox-tiny_digitscenes-10pct.py', {
            'default_hooks.checkpoint.max_keep_ckpts', 'train_cfg.max_iters',
            'train_cfg.val_interval', 'train_dataloader.batch_size'}),
    'supervised/yolox-tiny_digitscenes-100pct-plateau.py': (
        'supervised/yolox-tiny_digitscenes-10pct-plateau.py', {
            'train_dataloader.dataset.ann_file'}),
    'supervised/yolox-tiny_digitscenes-demo-start.py': (
        'supervised/yolox-tiny_digitscenes-10pct-plateau.py', {
            'default_hooks.checkpoint.interval', 'default_hooks.logger.interval',
            'train_cfg.max_iters', 'train_cfg.val_interval'}),
    'sfod/expert_yolox-s_digitscenes.py': (
        'supervised/yolox-tiny_digitscenes-100pct-plateau.py', {
            'model.backbone.widen_factor', 'model.bbox_head.feat_channels',
            'model.bbox_head.in_channels', 'model.neck.in_channels', 'model.neck.out_channels'}),
    'mean_teacher/sup-ema_retinanet-r18w16_digitscenes-1pct-converged.py': (
        'mean_teacher/mt_retinanet-r18w16_digitscenes-1pct-converged.py', {
            'model.semi_train_cfg.unsup_weight'}),
    'consistent_teacher/ct_retinanet-r18w16_digitscenes-1pct-converged.py': (
        'mean_teacher/mt_retinanet-r18w16_digitscenes-1pct-converged.py', {
            'model.semi_train_cfg.pseudo_filters', 'ct_gmm_filters'}),
    'dual_teacher/dt-consensus_fcn-r18w16-d8_digitscenes-seg-1_8-converged.py': (
        'dual_teacher/dt_fcn-r18w16-d8_digitscenes-seg-1_8-converged.py', {
            'model.semi_train_cfg.pseudo_filters', 'model.semi_train_cfg.pseudo_thr'}),
    'dual_teacher/dt-consensus_yolox-tiny_digitscenes-10pct-converged.py': (
        'dual_teacher/dt_yolox-tiny_digitscenes-10pct-converged.py', {
            'model.semi_train_cfg.pseudo_filters'}),
}
TRAINED = [c for c in CONFIGS if not SPLITS.search(c) and c not in SOURCE_FREE
           and osp.relpath(c, osp.join(REPO, 'configs')) not in VARIANTS]


def _flat(obj, prefix=''):
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            out.update(_flat(v, f'{prefix}{k}.'))
        return out
    return {prefix[:-1]: obj}


@pytest.mark.parametrize('variant', sorted(VARIANTS))
def test_variants_differ_from_a_trained_config_only_where_listed(variant):
    """The variants are their base (trained in test_config_trains_and_evaluates, or itself a
    checked variant) except for the keys listed; a variant's model still builds."""
    base, allowed = VARIANTS[variant]
    a = _flat(Config.fromfile(osp.join(REPO, 'configs', base)).to_dict())
    b = _flat(Config.fromfile(osp.join(REPO, 'configs', variant)).to_dict())
    changed = {k for k in set(a) | set(b) if a.get(k) != b.get(k)}
    assert changed == allowed, variant
    from mmengine.registry import DefaultScope

    from mtkit.registry import MODELS
    cfg = Config.fromfile(osp.join(REPO, 'configs', variant))
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'mmdet')):
        MODELS.build(cfg.model)


def _sub_all(obj, pattern, new):
    if isinstance(obj, dict):
        return {k: _sub_all(v, pattern, new) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_sub_all(v, pattern, new) for v in obj)
    return re.sub(pattern, new, obj) if isinstance(obj, str) else obj


def test_split_configs_differ_from_their_10pct_config_only_by_the_split():
    checked = 0
    for path in CONFIGS:
        m = SPLITS.search(path)
        if not m:
            continue
        pct = int(m.group(2))
        ten = Config.fromfile(path.replace(f'-{pct}pct', '-10pct')).to_dict()
        this = Config.fromfile(path).to_dict()
        # (a config that names its split files directly keeps the base's percent)
        assert ten['percent'] == 10 and this['percent'] in (pct, 10), osp.basename(path)
        # with its split files (and its split's supervised start) renamed to the 10% ones, the
        # config is the 10% config
        this = _sub_all(this, rf'\.{this["fold"]}@{pct}(?!\d)', f'.{ten["fold"]}@10')
        this = _sub_all(this, f'_{pct}pct/', '_10pct/')
        this['percent'] = 10
        assert this == ten, osp.basename(path)
        checked += 1
    assert checked == 12


def test_gpu_configs_load_data_for_a_16_core_gpu_machine():
    """The COCO and Cityscapes semi-supervised configs (docs/gpu.md, "Data loading"): 12
    pinned, persistent workers; the COCO detectors get their own normalisation with a
    non-blocking host-to-GPU copy (MMEngine hands the top-level preprocessor to the model)."""
    coco = sorted(glob.glob(osp.join(REPO, 'configs', '*', '*_coco-*pct.py')))
    city = sorted(glob.glob(osp.join(REPO, 'configs', '*', '*cityscapes*.py')))
    semi_city = [p for p in city
                 if Config.fromfile(p).train_dataloader.dataset.type == 'mtkit.SemiSegDataset']
    assert len(coco) == 9 and len(semi_city) == 16
    for path in coco + semi_city:
        cfg = Config.fromfile(path)
        loader = cfg.train_dataloader
        assert (loader.num_workers, loader.pin_memory, loader.persistent_workers) == \
            (12, True, True), osp.basename(path)
    for path in coco:
        cfg = Config.fromfile(path)
        assert 'data_preprocessor' not in cfg.model  # so the Runner gives it the top-level one
        inner = cfg.data_preprocessor.data_preprocessor
        own = cfg.model.detector.data_preprocessor
        assert inner.non_blocking is True
        for key in ('mean', 'std', 'bgr_to_rgb', 'pad_size_divisor'):
            assert inner[key] == own[key], (osp.basename(path), key)


@pytest.mark.slow
@pytest.mark.parametrize('path', TRAINED, ids=[osp.basename(c)[:-3] for c in TRAINED])
def test_config_trains_and_evaluates(path, digitscenes, tiny_coco, tmp_path):
    cfg = Config.fromfile(path)
    raw = cfg._cfg_dict.to_dict()
    is_coco = 'data/coco/' in str(raw)
    raw = replace_strings(raw, 'data/coco/', tiny_coco + '/')
    raw = replace_strings(raw, 'data/digitscenes/coco/', osp.join(digitscenes, 'coco') + '/')
    if is_coco:
        raw = shrink_resizes(raw)
    cfg = small_run_cfg(Config(raw), str(tmp_path), max_iters=2)
    if '-converged' in osp.basename(path):
        cfg.load_from = None  # the supervised checkpoint: see test_converged_start.py
    semi = 'detector' in cfg.model
    det = cfg.model.detector if semi else cfg.model
    if det.get('backbone', {}).get('init_cfg') is not None:
        det.backbone.init_cfg = None  # no pretrained weights are reachable here
    if 'score_thr' in det.get('test_cfg', {}):
        det.test_cfg.score_thr = 0.0  # untrained models score ~1e-4: keep boxes to evaluate
    cfg.train_dataloader.batch_size = 2
    if semi:
        cfg.train_dataloader.sampler.update(batch_size=2, source_ratio=[1, 1])
        if cfg.custom_hooks[0].type == 'mtkit.EMATeacherHook':
            cfg.custom_hooks[0].begin_iter = 0  # (Dual Teacher's teachers have no burn-in)
        cfg.model.semi_train_cfg.burn_in_iters = 0  # exercise the unsupervised branch
    for key in ('val_dataloader', 'test_dataloader'):
        cfg[key].batch_size = 2
        if is_coco:
            cfg[key].dataset.indices = 2
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 2
    metrics = runner.val_loop.run()
    key = 'teacher/coco/bbox_mAP' if semi else 'coco/bbox_mAP'
    assert key in metrics and 0.0 <= metrics[key] <= 1.0
    if semi:
        assert 'student/coco/bbox_mAP' in metrics
        weight = runner.message_hub.get_scalar('train/unsup_weight').current()
        if cfg.model.semi_train_cfg.get('unsup_weight', 1.0) == 0:  # supervised + EMA
            assert weight == 0
        else:
            assert weight > 0
