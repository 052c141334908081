"""Pseudo-label filters and diagnostics on real MMEngine Runners: GMM queues resume exactly,
the diagnostics reach the logs and the plots render, a second teacher feeds the consensus."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from conftest import REPO
from helpers import point_digitscenes, small_run_cfg
from tools import plot_pseudo_labels

CT_CFG = osp.join(REPO, 'configs/consistent_teacher/ct_yolox-tiny_digitscenes-10pct.py')


def ct_cfg(root, work_dir, max_iters, filters=None):
    cfg = small_run_cfg(point_digitscenes(Config.fromfile(CT_CFG), root), work_dir, max_iters,
                        val=False)
    cfg.train_dataloader.batch_size = 2
    cfg.train_dataloader.sampler.batch_size = 2
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False, interval=2)
    cfg.model.semi_train_cfg.update(burn_in_iters=0, ramp_iters=0)
    if filters is not None:
        cfg.model.semi_train_cfg.pseudo_filters = filters
    cfg.model.detector.test_cfg.score_thr = 0.0  # an untrained teacher scores ~1e-4
    cfg.custom_hooks[0].update(begin_iter=0, momentum=0.1)
    cfg.custom_hooks[1].interval = 1
    cfg.randomness = dict(seed=3, deterministic=False)
    return cfg


@pytest.mark.slow
def test_gmm_queue_resumes_exactly(digitscenes, tmp_path):
    straight = Runner.from_cfg(ct_cfg(digitscenes, str(tmp_path / 'a'), 4))
    straight.train()
    queue = straight.model.pseudo_filter.filters[1].queue
    assert int((queue > 0).sum()) > 0
    Runner.from_cfg(ct_cfg(digitscenes, str(tmp_path / 'b'), 2)).train()
    cfg = ct_cfg(digitscenes, str(tmp_path / 'b'), 4)
    cfg.resume = True
    resumed = Runner.from_cfg(cfg)
    resumed.train()
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert 'pseudo_filter.filters.1.queue' in a and a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.mark.slow
def test_diagnostics_logged_and_plotted(digitscenes, tmp_path):
    # a fixed threshold of 0 keeps every teacher box, so precision/recall have data
    cfg = ct_cfg(digitscenes, str(tmp_path), 3, filters=[
        dict(type='ScoreSumTopK'),
        dict(type='GMMThreshold', num_classes=10, fallback=0.0),
    ])
    # visualizers are per-process singletons by name: a fresh one writes into this work_dir
    cfg.visualizer.name = f'vis_{tmp_path.name}'
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend'),
                                   dict(type='TensorboardVisBackend')]
    runner = Runner.from_cfg(cfg)
    runner.train()
    hub = runner.message_hub
    for key in ('boxes_per_img', 'raw_per_img', 'precision', 'recall', 'unsup_share',
                'thr_mean'):
        value = hub.get_scalar(f'train/pseudo/{key}').current()
        assert value == value, key  # logged and not NaN
    assert 0.0 <= hub.get_scalar('train/pseudo/precision').current() <= 1.0
    assert hub.get_scalar('train/pseudo/raw_per_img').current() >= \
        hub.get_scalar('train/pseudo/boxes_per_img').current() > 0
    assert 0.0 < hub.get_scalar('train/pseudo/unsup_share').current() < 1.0
    assert plot_pseudo_labels.main([str(tmp_path)]) == 0
    for name in ('pseudo_thresholds', 'pseudo_precision_recall', 'pseudo_boxes'):
        path = tmp_path / 'plots' / f'{name}.png'
        assert path.stat().st_size > 5000, name
    series = plot_pseudo_labels.read_pseudo_scalars(str(tmp_path))
    assert len([k for k in series if k.startswith('pseudo/thr/')]) == 10  # one per class
    assert [s for s, _ in series['pseudo/thr/zero']] == [1, 2, 3]
    # the same values reach TensorBoard
    import glob

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    events = glob.glob(str(tmp_path / '*' / 'vis_data' / 'events.out.tfevents.*'))
    assert events
    acc = EventAccumulator(events[0])
    acc.Reload()
    tags = acc.Tags()['scalars']
    assert 'pseudo/thr/zero' in tags and 'pseudo/precision' in tags


def test_plot_tool_names_missing_inputs(tmp_path, capsys):
    assert plot_pseudo_labels.main([str(tmp_path)]) == 1
    assert 'no */vis_data/scalars.json' in capsys.readouterr().err


@pytest.mark.slow
def test_consensus_of_two_teachers(digitscenes, tmp_path):
    cfg = ct_cfg(digitscenes, str(tmp_path), 2, filters=[
        dict(type='ConsensusFilter', iou_thr=0.3, score_rule='mean'),
        dict(type='ScoreThreshold', thr=0.0),
    ])
    cfg.custom_hooks.insert(1, dict(type='mtkit.EMATeacherHook', momentum=0.5, begin_iter=0,
                                    teacher_name='teacher2'))
    runner = Runner.from_cfg(cfg)
    model = runner.model
    assert hasattr(model, 'teacher2')
    calls = []
    model.teacher2.backbone.register_forward_hook(lambda *a: calls.append(1))
    runner.train()
    assert len(calls) == 2  # the second teacher predicted at each step
    w = 'backbone.stem.conv.conv.weight'
    t1, t2, s = (getattr(model, n).state_dict()[w] for n in ('teacher', 'teacher2', 'student'))
    assert not torch.equal(t1, t2)  # two EMAs with different momenta
    assert 'teacher2.' + w in runner.model.state_dict()  # saved in checkpoints


@pytest.mark.slow
def test_consensus_without_second_teacher_hook_is_not_silent(digitscenes, tmp_path):
    cfg = ct_cfg(digitscenes, str(tmp_path), 1, filters=[dict(type='ConsensusFilter')])
    runner = Runner.from_cfg(cfg)
    with pytest.raises(KeyError, match="teacher2.*EMATeacherHook\\(teacher_name='teacher2'"):
        runner.train()


@pytest.mark.slow
def test_precision_without_pseudo_boxes_is_nan_not_stale(digitscenes, tmp_path):
    cfg = ct_cfg(digitscenes, str(tmp_path), 1, filters=[dict(type='ScoreThreshold', thr=1.0)])
    runner = Runner.from_cfg(cfg)
    runner.message_hub.update_scalar('train/pseudo/precision', 0.7)  # a value from before
    runner.train()
    hub = runner.message_hub
    assert hub.get_scalar('train/pseudo/boxes_per_img').current() == 0
    precision = hub.get_scalar('train/pseudo/precision').current()
    assert precision != precision  # NaN: undefined, not the stale 0.7
    assert hub.get_scalar('train/pseudo/recall').current() == 0.0


def test_plot_tool_draws_pixel_coupling(tmp_path):
    """Pixel runs (segmentation) log teacher-student agreement: the coupling figure is drawn
    from MMEngine's scalars.json, one curve per run, and the series are read back as logged."""
    import json
    runs = []
    for name, agree in (('ema', 0.9), ('dual', 0.6)):
        vis = tmp_path / name / '20261207_000000' / 'vis_data'
        vis.mkdir(parents=True)
        rows = [{'step': it, 'loss': 1.0, 'pseudo/kept_share': 0.9, 'pseudo/accuracy': 0.98,
                 'pseudo/agreement': 0.97, 'pseudo/class_agreement': agree + it / 1000}
                for it in (50, 100, 150)]
        (vis / 'scalars.json').write_text('\n'.join(json.dumps(r) for r in rows) + '\n')
        runs.append(str(tmp_path / name))
    assert plot_pseudo_labels.main(runs + ['--out', str(tmp_path / 'plots')]) == 0
    assert (tmp_path / 'plots' / 'pseudo_coupling.png').stat().st_size > 5000
    # nothing drawn for what pixel runs do not log (thresholds, box precision, boxes)
    assert sorted(p.name for p in (tmp_path / 'plots').iterdir()) == ['pseudo_coupling.png']
    series = plot_pseudo_labels.read_pseudo_scalars(runs[1])
    assert series['pseudo/class_agreement'] == [(50, 0.65), (100, 0.7), (150, 0.75)]
