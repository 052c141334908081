"""Distributed launch on CPU processes (gloo): tools/dist_train.sh trains a shipped config with
2 processes, and mtkit.engine.launch.prepare_launch makes MMEngine's launcher work without CUDA."""
import os
import os.path as osp
import socket
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

from conftest import REPO
from helpers import replace_strings, small_run_cfg


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.mark.skipif(torch.cuda.is_available(), reason='the CPU path')
def test_prepare_launch_without_cuda():
    from mtkit.engine.launch import prepare_launch
    cfg = Config(dict(launcher='pytorch', env_cfg=dict(dist_cfg=dict(backend='nccl'))))
    prepare_launch(cfg)
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'
    assert cfg.model_wrapper_cfg.type == 'MMDistributedDataParallel'
    assert cfg.model_wrapper_cfg.device_ids is None
    assert [h['type'] for h in cfg.custom_hooks] == ['mtkit.SyncNormBuffersHook']
    prepare_launch(cfg)  # once is enough
    assert len(cfg.custom_hooks) == 1
    synced = Config(dict(launcher='pytorch', sync_bn='torch'))
    prepare_launch(synced)
    assert not synced.get('custom_hooks')
    torch.cuda.set_device(1)  # MMEngine calls it unconditionally: now a no-op
    plain = Config(dict(launcher='none'))
    prepare_launch(plain)
    assert 'model_wrapper_cfg' not in plain


def _finish_worker(rank: int, world: int, init_file: str, out_dir: str) -> None:
    import datetime

    import torch.distributed as dist

    from mtkit.engine.launch import finish_launch

    def threads() -> int:
        return len(os.listdir('/proc/self/task'))
    before = threads()
    dist.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank,
                            world_size=world, timeout=datetime.timedelta(seconds=60))
    running = threads()

    class Owner:  # like the Runner: holds the DDP model and lives in a reference cycle
        pass
    owner = Owner()
    owner.me = owner
    owner.model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(3, 1))
    owner.model(torch.ones(2, 3)).sum().backward()  # gloo work done, as after a DDP step
    del owner
    finish_launch()
    alive, after = dist.is_initialized(), threads()
    finish_launch()  # no process group left: nothing to do, no error
    with open(osp.join(out_dir, f'finish{rank}.txt'), 'w') as f:
        f.write(f'{alive} {running > before} {after - before}')


def test_finish_launch_frees_the_process_group(tmp_path):
    """tools/train.py and tools/test.py end with finish_launch: the gloo group is destroyed and
    its worker threads are joined before the interpreter's exit (a worker that frees a
    collective's tensors while Python finalizes aborts the process), even while a Runner-like
    object in a reference cycle still held the DDP model; once, on every rank."""
    import torch.multiprocessing as mp
    mp.spawn(_finish_worker, args=(2, str(tmp_path / 'init'), str(tmp_path)), nprocs=2,
             join=True)
    for r in (0, 1):
        # gloo started threads; none of them is left
        assert (tmp_path / f'finish{r}.txt').read_text() == 'False True 0'


def _seg_cfg_file(digitscenes, tmp_path, max_iters):
    path = osp.join(REPO, 'configs/mean_teacher/mt_fcn-r18w16-d8_digitscenes-seg-1_8-converged.py')
    raw = replace_strings(Config.fromfile(path)._cfg_dict.to_dict(), 'data/digitscenes/cityscapes/',
                          osp.join(digitscenes, 'cityscapes') + '/')
    cfg = small_run_cfg(Config(raw), str(tmp_path / 'unused'), max_iters=max_iters, val=False)
    cfg.load_from = None
    cfg.train_dataloader.batch_size = 2
    cfg.default_hooks.visualization = dict(type='SegVisualizationHook', draw=False)
    cfg.default_hooks.checkpoint.interval = 2
    cfg.model.semi_train_cfg.pseudo_thr = 0.0
    cfg.model.segmentor.decode_head.dropout_ratio = 0.0
    cfg_file = str(tmp_path / f'cfg{max_iters}.py')
    cfg.dump(cfg_file)
    return cfg_file


def readme_shell() -> dict:
    """The environment of a new user's shell after `make demo`: `python` on the PATH is not the
    virtual environment's (no PY, no VIRTUAL_ENV); MTKIT_VENV only where the suite's
    environment is not this repository's .venv (as `make setup` would have been told)."""
    venv_bin = osp.dirname(sys.executable)
    env = {k: v for k, v in os.environ.items() if k not in ('PY', 'VIRTUAL_ENV')}
    env['PATH'] = os.pathsep.join(p for p in env.get('PATH', '').split(os.pathsep)
                                  if osp.abspath(p) != osp.abspath(venv_bin))
    if osp.abspath(sys.prefix) != osp.join(REPO, '.venv'):
        env['MTKIT_VENV'] = sys.prefix
    return env


def _dist_train(cfg_file, work_dir, *extra):
    """``bash tools/dist_train.sh CONFIG 2 ...`` as the README prints it."""
    env = dict(readme_shell(), PORT=str(_free_port()), OMP_NUM_THREADS='1')
    r = subprocess.run(['bash', 'tools/dist_train.sh', cfg_file, '2', '--work-dir', work_dir,
                        *extra], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]
    return out


@pytest.mark.slow
def test_dist_train_two_cpu_processes_and_exact_resume(digitscenes, tmp_path):
    """The segmentation mean teacher on 2 gloo processes: 4 iterations straight, and 2 + 2
    with --resume, end with the same weights and buffers, teachers included (BatchNorm
    statistics are synchronised across ranks, so the checkpoint holds every rank's)."""
    out = _dist_train(_seg_cfg_file(digitscenes, tmp_path, 4), str(tmp_path / 'a'))
    assert "'nccl' -> 'gloo'" in out and 'SyncNormBuffersHook' in out
    _dist_train(_seg_cfg_file(digitscenes, tmp_path, 2), str(tmp_path / 'b'))
    _dist_train(_seg_cfg_file(digitscenes, tmp_path, 4), str(tmp_path / 'b'), '--resume')
    a, b = (torch.load(tmp_path / d / 'iter_4.pth', map_location='cpu', weights_only=True)
            for d in ('a', 'b'))
    assert a['meta']['iter'] == b['meta']['iter'] == 4
    assert a['state_dict'].keys() == b['state_dict'].keys()
    for k in a['state_dict']:
        assert torch.equal(a['state_dict'][k], b['state_dict'][k]), k


def _det_cfg_file(digitscenes, tmp_path, name, gather, burn_in=0, joint='auto'):
    from helpers import point_digitscenes
    cfg = point_digitscenes(Config.fromfile(osp.join(REPO, 'configs', name)), digitscenes)
    cfg = small_run_cfg(cfg, str(tmp_path / 'unused'), max_iters=2, val=False)
    cfg.load_from = None
    cfg.train_dataloader.batch_size = 2
    cfg.train_dataloader.sampler.update(batch_size=2, source_ratio=[1, 1])
    cfg.custom_hooks[0].begin_iter = burn_in
    # unsupervised from the start (or after a 1-iteration burn-in of labeled-only batches)
    cfg.model.semi_train_cfg.update(burn_in_iters=burn_in, ramp_iters=0,
                                    joint_student_forward=joint)
    cfg.model.detector.test_cfg.score_thr = 0.0
    for f in cfg.model.semi_train_cfg.pseudo_filters:
        if f['type'] == 'ScoreThreshold':
            f['thr'] = 0.0  # an untrained model is not confident: keep pseudo boxes
        if f['type'] == 'GMMThreshold':
            f['gather'] = gather
    cfg_file = str(tmp_path / 'det.py')
    cfg.dump(cfg_file)
    return cfg_file


@pytest.mark.slow
def test_dist_train_pets_exchanges_on_both_ranks(digitscenes_fog, tmp_path):
    """Source-free PETS on 2 gloo processes, with the relational context (whose counts are
    summed over the ranks every step): it trains 2 iterations with an exchange after each (the
    hook needs no collective, so a rank that exchanged alone would not hang but diverge; the
    exchange is a pure function of the iteration, tested in test_sfod.py), and the checkpoint,
    written once, records 2 exchanges and a fitted relation matrix."""
    from mtkit.registry import MODELS
    from mmengine.registry import DefaultScope
    path = osp.join(REPO, 'configs/sfod/pets_yolox-tiny_digitscenes-fog.py')
    raw = replace_strings(Config.fromfile(path)._cfg_dict.to_dict(), 'data/digitscenes_fog/coco/',
                          osp.join(digitscenes_fog, 'coco') + '/')
    cfg = small_run_cfg(Config(raw), str(tmp_path / 'unused'), max_iters=2, val=False)
    cfg.train_dataloader.batch_size = 2
    cfg.model.detector.test_cfg.score_thr = 0.0
    cfg.model.semi_train_cfg.pseudo_filters[1]['thr'] = 0.0
    cfg.model.semi_train_cfg.relational_context = dict(alpha=0.5)
    cfg.custom_hooks[0].interval = 1
    cfg.log_level = 'INFO'  # the exchanges are logged at INFO
    with DefaultScope.overwrite_default_scope('mmdet'):
        source = MODELS.build(cfg.model.detector)
    with torch.no_grad():  # untrained box regression decodes to inf: predict the priors
        for conv in source.bbox_head.multi_level_conv_reg:
            conv.weight.zero_()
            conv.bias.zero_()
    cfg.load_from = str(tmp_path / 'source.pth')
    torch.save(dict(state_dict=source.state_dict(), meta={}), cfg.load_from)
    cfg_file = str(tmp_path / 'pets.py')
    cfg.dump(cfg_file)
    out = _dist_train(cfg_file, str(tmp_path / 'w'))
    assert "'nccl' -> 'gloo'" in out
    ckpt = torch.load(tmp_path / 'w' / 'iter_2.pth', map_location='cpu', weights_only=True)
    assert ckpt['mtkit_periodic_exchange']['exchanges'] == 2
    assert ckpt['state_dict']['relation.matrix'].sum() > 0
    log = next((tmp_path / 'w').glob('*/*.log')).read_text()
    assert 'exchange 2 after iteration 2: student <-> teacher2 swapped' in log


@pytest.mark.slow
def test_dist_train_dual_teacher_student_two_processes(digitscenes_uda, tmp_path):
    """DTS (two teacher-student pairs, source ClassMix with a per-pair share of source classes)
    on 2 gloo processes: every rank runs both pairs' losses and the same collectives (a rank
    that skipped one would hang DDP's gradient reduction); each pair's EMA hook keeps its own
    state in the checkpoint and moved its own teacher. (Exact resume: test_dts.py.)"""
    from helpers import uda_cfg
    root, _ = digitscenes_uda
    cfg = uda_cfg(root, str(tmp_path / 'unused'), max_iters=2,
                  path=osp.join(REPO, 'configs/uda/dts_fcn-r18w16-d8_digitscenes-uda.py'))
    cfg.model.semi_train_cfg.pseudo_thr = 0.0
    cfg.train_dataloader.batch_size = 1  # 4 source images over 2 ranks x 2 samples
    cfg_file = str(tmp_path / 'dts.py')
    cfg.dump(cfg_file)
    out = _dist_train(cfg_file, str(tmp_path / 'w'))
    assert "'nccl' -> 'gloo'" in out
    ckpt = torch.load(tmp_path / 'w' / 'iter_2.pth', map_location='cpu', weights_only=True)
    assert ckpt['mtkit_ema_teacher'] == dict(step=2, pairs={'teacher': 'student'})
    assert ckpt['mtkit_ema_teacher.teacher2'] == dict(step=2, pairs={'teacher2': 'student2'})
    sd = ckpt['state_dict']
    for teacher, student in (('teacher', 'student'), ('teacher2', 'student2')):
        key = 'decode_head.conv_seg.weight'
        assert not torch.equal(sd[f'{teacher}.{key}'], sd[f'{student}.{key}'])


@pytest.mark.slow
@pytest.mark.parametrize('name,burn_in,joint', [
    ('consistent_teacher/ct_yolox-tiny_digitscenes-10pct-converged.py', 0, 'auto'),
    ('mean_teacher/mt_yolox-tiny_digitscenes-10pct-converged.py', 1, True)])
def test_dist_train_detection_mean_teacher_and_consistent_teacher(digitscenes, tmp_path, name,
                                                                  burn_in, joint):
    """Consistent-Teacher's GMM thresholds with gather=True, and the detection mean teacher with
    BurnInIterBasedTrainLoop's labeled-only first iteration and the student's joint backbone
    pass, on 2 gloo processes: both ranks run the unsupervised branch (weight > 0), and the
    checkpoint is written once."""
    out = _dist_train(_det_cfg_file(digitscenes, tmp_path, name, gather=True, burn_in=burn_in,
                                    joint=joint), str(tmp_path / 'w'))
    assert "'nccl' -> 'gloo'" in out
    ckpt = torch.load(tmp_path / 'w' / 'iter_2.pth', map_location='cpu', weights_only=True)
    assert ckpt['meta']['iter'] == 2
    assert any(k.startswith('teacher.') for k in ckpt['state_dict'])
    import json
    with open(next(tmp_path.glob('w/*/vis_data/scalars.json'))) as f:
        records = [json.loads(line) for line in f]
    weights = [r['unsup_weight'] for r in records if 'unsup_weight' in r]
    assert len(weights) == 2 and min(weights[burn_in:]) > 0, records
    assert weights[:burn_in] == [0.0] * burn_in, records


def _sync_worker(rank: int, world: int, init_file: str, out_dir: str) -> None:
    import datetime
    import json
    import types

    import torch.distributed as dist

    from mtkit.filters import GMMThreshold
    from mtkit.hooks import SyncNormBuffersHook
    dist.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank,
                            world_size=world, timeout=datetime.timedelta(seconds=60))
    try:
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4),
                                    GMMThreshold(num_classes=2, queue_size=4))
        model[:2](torch.randn(2, 3, 8, 8) + 3.0 * rank)  # each rank sees other images
        # per-rank filter state: rank 0 queued a score of class 0 only, rank 1 of both classes
        n = 1 + rank
        model[2].update(torch.tensor([0.9, 0.6])[:n] - 0.1 * rank, torch.arange(n),
                        torch.ones(n, dtype=torch.bool))
        queue, current = model[2].queue.clone(), model[2].current.clone()
        before = model[1].running_mean.clone()
        SyncNormBuffersHook().after_train_iter(types.SimpleNamespace(model=model, iter=0), 0)
        gathered = [torch.zeros_like(before) for _ in range(world)]
        dist.all_gather(gathered, model[1].running_mean)
        with open(osp.join(out_dir, f'sync{rank}.json'), 'w') as f:
            json.dump(dict(before=before.tolist(), after=[g.tolist() for g in gathered],
                           batches=int(model[1].num_batches_tracked),
                           queue=queue.tolist(), queue_after=model[2].queue.tolist(),
                           current=current.tolist(), current_after=model[2].current.tolist()),
                      f)
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_sync_norm_buffers_hook_makes_ranks_agree(tmp_path):
    """Two gloo processes whose BatchNorm saw different images hold the mean of both running
    statistics after the hook, on both ranks; the integer counter is untouched, and so is each
    rank's own GMM filter state (queues and thresholds are per rank, never averaged)."""
    import json

    import torch.multiprocessing as mp
    mp.spawn(_sync_worker, args=(2, str(tmp_path / 'init'), str(tmp_path)), nprocs=2, join=True)
    r0, r1 = (json.loads((tmp_path / f'sync{r}.json').read_text()) for r in (0, 1))
    assert r0['before'] != r1['before']
    mean = (torch.tensor(r0['before']) + torch.tensor(r1['before'])) / 2
    for r in (r0, r1):
        for got in r['after']:
            torch.testing.assert_close(torch.tensor(got), mean)
        assert r['batches'] == 1
        assert r['queue_after'] == r['queue'] and r['current_after'] == r['current']
    assert r0['queue'] != r1['queue']


def _gmm_worker(rank: int, world: int, init_file: str, out_dir: str, gather: bool) -> None:
    import datetime
    import json

    import torch.distributed as dist

    from mtkit.filters import GMMThreshold
    dist.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank,
                            world_size=world, timeout=datetime.timedelta(seconds=60))
    try:
        f = GMMThreshold(num_classes=2, queue_size=8, gather=gather)
        n = 3 + rank  # ranks with different numbers of scores
        scores = torch.full((n, ), 0.1 + 0.5 * rank)
        labels = torch.zeros(n, dtype=torch.long)
        f.update(scores, labels, torch.ones(n, dtype=torch.bool))
        with open(osp.join(out_dir, f'gmm{rank}.json'), 'w') as fh:
            json.dump(f.queue[0].tolist(), fh)
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
@pytest.mark.parametrize('gather', [False, True])
def test_gmm_queues_per_rank_or_gathered(tmp_path, gather):
    """GMMThreshold keeps a queue per rank by default (as the reference code); gather=True
    pushes every rank's scores (3 on rank 0, 4 on rank 1) into both ranks' queues."""
    import json

    import torch.multiprocessing as mp
    mp.spawn(_gmm_worker, args=(2, str(tmp_path / 'init'), str(tmp_path), gather), nprocs=2,
             join=True)
    q0, q1 = (json.loads((tmp_path / f'gmm{r}.json').read_text()) for r in (0, 1))
    if gather:
        assert q0 == q1
        assert sorted(round(v, 3) for v in q0 if v > 0) == [0.1] * 3 + [0.6] * 4
    else:
        assert sorted(round(v, 3) for v in q0 if v > 0) == [0.1] * 3
        assert sorted(round(v, 3) for v in q1 if v > 0) == [0.6] * 4


def test_sync_norm_buffers_hook_selects_norm_statistics_or_the_named_buffers():
    from mtkit.filters import GMMThreshold
    from mtkit.hooks import SyncNormBuffersHook
    from mtkit.utils.errors import ConfigKeyError
    model = torch.nn.ModuleDict(dict(
        bn=torch.nn.BatchNorm2d(2), inorm=torch.nn.InstanceNorm2d(2, track_running_stats=True),
        gmm=GMMThreshold(num_classes=2, queue_size=4)))
    names = [n for n, _ in SyncNormBuffersHook().selected(model)]
    assert names == ['bn.running_mean', 'bn.running_var', 'inorm.running_mean',
                     'inorm.running_var']
    hook = SyncNormBuffersHook(buffers=[r'gmm\.current', r'bn\..*'])
    assert [n for n, _ in hook.selected(model)] == ['bn.running_mean', 'bn.running_var',
                                                    'gmm.current']
    with pytest.raises(ConfigKeyError, match=r"buffers: 'bnx' matches no floating-point"):
        SyncNormBuffersHook(buffers=['bnx']).selected(model)
    with pytest.raises(ConfigKeyError, match='expected a list of regular expressions'):
        SyncNormBuffersHook(buffers='bn')
