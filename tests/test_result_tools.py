"""tools/collect_results.py and tools/seed_table.py: reading MMEngine's scalars.json and the
over-seed table of the model-zoo experiments."""
import glob
import json
import math
import os
import os.path as osp
import sys

import pytest

from tools import collect_results, experiment, seed_table
from tools.seed_table import read_experiment_runs

from conftest import REPO


def write_scalars(work_dir, records):
    vis = work_dir / '20261128_000000' / 'vis_data'
    vis.mkdir(parents=True)
    (vis / 'scalars.json').write_text('\n'.join(json.dumps(r) for r in records) + '\n')


def val_record(step, miou, flicker):
    return {'teacher/clip/mIoU': miou, 'teacher/clip/flicker': flicker,
            'data_time': 0.01, 'time': 0.1, 'step': step}


def test_collect_results_keeps_flicker_and_iterations(tmp_path):
    wd = tmp_path / 'smt_s0'
    write_scalars(wd, [dict(loss=1.0, time=0.2, iter=50, step=50),
                       dict(loss=0.5, time=0.4, iter=100, step=100),
                       val_record(100, 20.0, 3.5)])
    run = collect_results.read_run(str(wd))
    assert run['last_train_iter'] == 100
    assert run['val'] == {'100': {'teacher/clip/mIoU': 20.0, 'teacher/clip/flicker': 3.5}}
    assert run['sec_per_iter'] == pytest.approx(0.4)  # the first (warm-up) record is skipped


def summary(**runs):
    return {name: dict(val={str(it): m for it, m in vals}) for name, vals in runs.items()}


def test_seed_table_mean_and_sample_std_of_last_validation():
    s = summary(mt_s0=[(500, {'m': 1.0}), (1000, {'m': 10.0})],
                mt_s1=[(500, {'m': 99.0}), (1000, {'m': 14.0})],
                sup_s0=[(1000, {'m': 7.0})])
    stats = seed_table.seed_stats(seed_table.group_runs(s), ['m'])
    assert stats['mt']['seeds'] == [0, 1] and stats['mt']['iteration'] == 1000
    mean, std = stats['mt']['metrics']['m']
    assert mean == pytest.approx(12.0)  # the earlier validations (1.0, 99.0) are not used
    assert std == pytest.approx(math.sqrt(((10 - 12) ** 2 + (14 - 12) ** 2) / 1))
    assert stats['sup']['metrics']['m'] == (7.0, None)
    mt_only = {k: v for k, v in s.items() if k.startswith('mt')}
    early = seed_table.seed_stats(seed_table.group_runs(mt_only, at=500), ['m'])
    assert early['mt']['metrics']['m'][0] == pytest.approx(50.0)
    table = seed_table.markdown(stats, ['m'], ['sup', 'mt']).splitlines()
    assert table[2] == '| sup | 1 | 1000 | 7.00 |'
    assert table[3] == '| mt | 2 | 1000 | 12.00 +- 2.83 |'


def test_seed_table_errors_name_the_run():
    with pytest.raises(ValueError, match="group 'mt'.*{0: 1000, 1: 800}"):
        seed_table.seed_stats(seed_table.group_runs(
            summary(mt_s0=[(1000, {'m': 1.0})], mt_s1=[(800, {'m': 1.0})])), ['m'])
    with pytest.raises(ValueError, match="run 'mt'.*_s<seed>"):
        seed_table.group_runs(summary(mt=[(1000, {'m': 1.0})]))
    with pytest.raises(ValueError, match="run 'mt_s0': no validation"):
        seed_table.group_runs({'mt_s0': dict(val={})})
    with pytest.raises(KeyError, match="no validation at iteration 500 \\(it has \\[1000\\]"):
        seed_table.group_runs(summary(sup_s0=[(1000, {'m': 7.0})]), at=500)
    with pytest.raises(KeyError, match="seeds \\[0\\]: no metric 'x'"):
        seed_table.seed_stats(seed_table.group_runs(summary(mt_s0=[(1, {'m': 1.0})])), ['x'])
    with pytest.raises(KeyError, match="--order names \\['smt'\\]"):
        seed_table.markdown(seed_table.seed_stats(seed_table.group_runs(
            summary(mt_s0=[(1, {'m': 1.0})])), ['m']), ['m'], ['smt'])


def experiment_rows(name, work_dir):
    """The arm rows of ``experiments/{name}.py``'s table over the runs in ``work_dir``."""
    exp = experiment.load_experiment(osp.join(REPO, 'experiments', f'{name}.py'))
    return seed_table.arm_rows(seed_table.read_experiment_runs(str(work_dir)), exp['arms'],
                               exp['table'])


def test_det_converged_table_gain_and_gap_closed(tmp_path):
    """The experiment table of experiments/det_converged.py: each run's last validation, mean
    +- std per arm, the teacher's gain over sup_ema and the share of the headroom (sup_ema_full
    - sup_ema) closed; arms whose seeds stopped at different iterations are an error."""
    T, S = 'teacher/coco/bbox_mAP', 'student/coco/bbox_mAP'

    def run(name, teachers, students=None, steps=(500, 1000)):
        for i, (t, s) in enumerate(zip(teachers, students or teachers)):
            recs = [{'teacher/coco/bbox_mAP': t - 0.1, 'student/coco/bbox_mAP': s - 0.1,
                     'step': steps[0]},
                    {'teacher/coco/bbox_mAP': t, 'student/coco/bbox_mAP': s, 'step': steps[1]}]
            write_scalars(tmp_path / f'{name}_s{i}', recs)

    run('sup_ema', [0.60, 0.62], [0.50, 0.52])
    run('mt', [0.65, 0.67])
    run('sup_ema_full', [0.71])
    write_scalars(tmp_path / 'sup10_s0', [{'coco/bbox_mAP': 0.5, 'step': 1000}])
    rows = experiment_rows('det_converged', tmp_path)
    assert 'sup10' not in rows
    assert rows['mt'][T] == pytest.approx((0.66, math.sqrt(2 * 0.01 ** 2)))
    assert rows['mt']['gain'] == pytest.approx(0.05)
    assert rows['mt']['gap_closed'] == pytest.approx(0.05 / 0.10)
    assert rows['mt']['gain_over_2std'] is True  # 0.05 > 2 x 0.0141
    assert rows['sup_ema'][S][0] == pytest.approx(0.51)
    # a variant arm is compared with its own supervised + EMA run (and the full-label
    # reference of its variant where the experiment file names one)
    run('sup_ema_1pct', [0.30])
    run('mt_1pct', [0.36])
    run('sup_ema_long', [0.64])
    run('mt_long', [0.70])
    run('sup_ema_full_long', [0.76])
    rows = experiment_rows('det_converged', tmp_path)
    assert rows['mt_1pct']['baseline'] == 'sup_ema_1pct'
    assert rows['mt_1pct']['gain'] == pytest.approx(0.06)
    assert rows['mt_1pct']['gap_closed'] == pytest.approx(0.06 / (0.71 - 0.30))
    assert rows['mt_1pct']['gain_over_2std'] is None  # one seed each: no spread to compare
    assert (rows['mt_long']['baseline'], rows['mt_long']['full']) == (
        'sup_ema_long', 'sup_ema_full_long')
    assert rows['mt_long']['gap_closed'] == pytest.approx(0.06 / 0.12)
    assert rows['mt']['gap_closed'] == pytest.approx(0.05 / 0.10)
    run('late', [0.6], steps=(500, 1000))
    write_scalars(tmp_path / 'late_s1', [{'teacher/coco/bbox_mAP': 0.6,
                                          'student/coco/bbox_mAP': 0.6, 'step': 750}])
    with pytest.raises(ValueError, match="arm 'late': seeds stopped at different iterations"):
        experiment_rows('det_converged', tmp_path)


def test_seg_converged_table_reported_model_gain_and_pseudo(tmp_path):
    """The experiment table of experiments/seg_converged.py: digit-only mIoU of the reported
    model (the teacher; the student for Dual Teacher arms) against the supervised + EMA
    teacher, the gap closed towards the full-label reference, and the pseudo-label diagnostics
    of the second half (older logs' loss-dict names read as today's pseudo/ names)."""

    def run(name, seed, fg, models=('teacher', 'student'), conf=None):
        recs = []
        if conf is not None:
            recs += [{'loss': 0.1, 'unsup_conf_ratio': c, 'unsup_pseudo_acc': 0.99, 'iter': it}
                     for it, c in ((100, 0.1), (600, conf), (900, conf))]
        recs.append({**{f'{m}/fg_mIoU': fg + i for i, m in enumerate(models)},
                     **{f'{m}/mIoU': fg + 5 for m in models}, 'step': 1000})
        write_scalars(tmp_path / f'{name}_s{seed}', recs)

    run('sup_ema', 0, 46.0)
    run('sup_ema', 1, 48.0)
    run('mt', 0, 48.5, conf=0.9)
    run('mt', 1, 49.5, conf=0.8)
    run('dt', 0, 45.0, models=('student', 'teacher', 'teacher2'), conf=0.9)
    run('sup_ema_full', 0, 57.0)
    write_scalars(tmp_path / 'sup1_8_s0', [{'mIoU': 50.0, 'fg_mIoU': 45.0, 'step': 8000}])
    rows = experiment_rows('seg_converged', tmp_path)
    assert 'sup1_8' not in rows
    assert rows['mt']['teacher/fg_mIoU'] == pytest.approx((49.0, math.sqrt(0.5)))
    assert rows['mt']['gain'] == pytest.approx(49.0 - 47.0)
    assert rows['mt']['gap_closed'] == pytest.approx(2.0 / (57.0 - 47.0))
    assert rows['mt']['gain_over_2std'] is False  # 2.0 < 2 x 1.41, the larger std (sup_ema)
    assert rows['mt']['pseudo/kept_share'] == pytest.approx(0.85)  # second half only
    assert rows['mt']['pseudo/accuracy'] == pytest.approx(0.99)
    assert rows['sup_ema']['pseudo/kept_share'] is None  # its teacher never labels
    assert rows['dt']['reported'] == 'student'
    assert rows['dt']['gain'] == pytest.approx(45.0 - 47.0)


def test_seg_pseudo_label_quality_by_hand():
    """tools/seg_pseudo_label_quality.py: kept share and precision of pixel pseudo labels,
    background and digits apart, ignore pixels left out."""
    import torch

    from tools.seg_pseudo_label_quality import pixel_quality
    gt = torch.tensor([[0, 0, 0, 3, 3, 255]])
    pred = torch.tensor([[0, 0, 1, 3, 5, 0]])
    conf = torch.tensor([[0.99, 0.5, 0.97, 0.96, 0.99, 0.99]])
    q = pixel_quality(conf, pred, gt, thr=0.95)
    assert q['background'] == dict(pixels=3, kept=2 / 3, precision=1 / 2)
    assert q['digits'] == dict(pixels=2, kept=1.0, precision=1 / 2)


def _experiment_file(tmp_path, arms, **extra):
    path = tmp_path / 'exp.py'
    body = dict(work_dir=str(tmp_path / 'wd'), seeds=[0, 1], options={'a.b': 1}, arms=arms,
                table=dict(metric='coco/bbox_mAP'), **extra)
    path.write_text('\n'.join(f'{k} = {v!r}' for k, v in body.items()) + '\n')
    return str(path)


SUP = 'configs/supervised/yolox-tiny_digitscenes-10pct.py'
MT = 'configs/mean_teacher/mt_yolox-tiny_digitscenes-10pct-converged.py'


def test_experiment_plan_commands_and_start_checkpoints(tmp_path):
    """tools/experiment.py: one run per arm and seed ({arm}_s{seed}), the experiment's and the
    arm's options with the seed and load_from, a finished run (done.json) skipped, the start
    arm's last checkpoint as load_from."""
    exp = experiment.load_experiment(_experiment_file(tmp_path, {
        'sup': dict(stage='sup', config=SUP, seeds=[0]),
        'mt': dict(config=MT, start='sup', options={
            'model.semi_train_cfg.unsup_loss_terms': ['loss_cls', 'loss_obj'],
            'x.y': None, 'lst': '{work_dir}/all.txt'})}))
    jobs = experiment.plan(exp)
    assert [(j['arm'], j['seed']) for j in jobs] == [('sup', 0), ('mt', 0), ('mt', 1)]
    assert [(j['arm'], j['seed']) for j in experiment.plan(exp, ['mt'], [2])] == [('mt', 2)]
    assert experiment.start_checkpoint(exp, 'mt') is None  # sup has not run
    sup_dir = tmp_path / 'wd' / 'sup_s0'
    sup_dir.mkdir(parents=True)
    (sup_dir / 'last_checkpoint').write_text(str(sup_dir / 'iter_5.pth'))
    # a start run still going (no done.json) is no start: its checkpoint is not the last
    assert experiment.start_checkpoint(exp, 'mt') is None
    (sup_dir / 'done.json').write_text('{}')
    assert experiment.start_checkpoint(exp, 'mt') == str(sup_dir / 'iter_5.pth')
    cmd = experiment.command(exp, jobs[1], str(sup_dir / 'iter_5.pth'))
    assert cmd[:2] == [sys.executable, osp.join(REPO, 'tools', 'train.py')]
    assert cmd[cmd.index('--work-dir') + 1] == str(tmp_path / 'wd' / 'mt_s0')
    opts = cmd[cmd.index('--cfg-options') + 1:]
    assert opts == ['a.b=1', 'model.semi_train_cfg.unsup_loss_terms=[loss_cls,loss_obj]',
                    'x.y=None', f'lst={tmp_path / "wd"}/all.txt', 'randomness.seed=0',
                    f'load_from={sup_dir / "iter_5.pth"}']
    assert [(j['arm'], j['seed']) for j in experiment.plan(exp)] == [('mt', 0), ('mt', 1)]


def test_experiment_start_seed_same_starts_each_seed_from_its_own_run(tmp_path):
    """start_seed='same': seed s of the arm starts from seed s of its start arm (e.g. each
    seed's final checkpoint evaluated on another split); a seed whose run has not finished has
    no start yet; anything but 'same', or a start that is a file, is named."""
    from mtkit.utils.errors import ConfigKeyError
    exp = experiment.load_experiment(_experiment_file(tmp_path, {
        'mt': dict(config=MT),
        'mt_other_split': dict(stage='test', config=MT, start='mt', start_seed='same')}))
    for seed in (0, 1):
        wd = tmp_path / 'wd' / f'mt_s{seed}'
        wd.mkdir(parents=True)
        (wd / 'last_checkpoint').write_text(str(wd / 'iter_9.pth'))
    (tmp_path / 'wd' / 'mt_s1' / 'done.json').write_text('{}')
    assert experiment.start_checkpoint(exp, 'mt_other_split', 1) == \
        str(tmp_path / 'wd' / 'mt_s1' / 'iter_9.pth')
    assert experiment.start_checkpoint(exp, 'mt_other_split', 0) is None  # s0 not finished
    (tmp_path / 'wd' / 'mt_s0' / 'done.json').write_text('{}')
    assert experiment.start_checkpoint(exp, 'mt_other_split', 0) == \
        str(tmp_path / 'wd' / 'mt_s0' / 'iter_9.pth')
    for arm, msg in [(dict(config=MT, start='mt', start_seed=0), "start_seed must be 'same'"),
                     (dict(config=MT, start='/a.pth', start_seed='same'), 'its start an arm')]:
        with pytest.raises(ConfigKeyError, match=msg):
            experiment.load_experiment(_experiment_file(tmp_path, {
                'mt': dict(config=MT), 'b': arm}))


def test_experiment_runs_in_order_marks_done_and_names_failures(tmp_path, monkeypatch):
    """Runs wait for the arm they start from, a run that exits 0 gets done.json (so a rerun
    skips it), a failing one is reported with its log and stops nothing else."""
    exp = experiment.load_experiment(_experiment_file(tmp_path, {
        'sup': dict(stage='sup', config=SUP, seeds=[0]),
        'mt': dict(config=MT, start='sup'),
        'bad': dict(config=MT)}))
    order = []

    def fake_command(exp_, job, load_from):
        order.append((job['arm'], job['seed'], load_from))
        if job['arm'] == 'sup':  # what tools/train.py leaves behind (the runner adds done.json)
            code = (f'open({job["work_dir"] + "/last_checkpoint"!r}, "w")'
                    f'.write({job["work_dir"] + "/iter_9.pth"!r}); '
                    f'open({job["work_dir"] + "/iter_9.pth"!r}, "w")')
        else:
            code = 'import sys; sys.exit(3)' if job['arm'] == 'bad' else 'pass'
        return [sys.executable, '-c', code]

    monkeypatch.setattr(experiment, 'command', fake_command)
    failed = experiment.run_jobs(exp, experiment.plan(exp), parallel=2, threads=1)
    assert [j['arm'] for j in failed] == ['bad', 'bad']
    assert failed[0]['returncode'] == 3 and failed[0]['log'].endswith('bad_s0.log')
    sup_ckpt = str(tmp_path / 'wd' / 'sup_s0' / 'iter_9.pth')
    assert [o for o in order if o[0] == 'mt'] == [('mt', 0, sup_ckpt), ('mt', 1, sup_ckpt)]
    assert order.index(('mt', 0, sup_ckpt)) > order.index(('sup', 0, None))
    assert [(j['arm'], j['seed']) for j in experiment.plan(exp)] == [('bad', 0), ('bad', 1)]


def test_experiment_gives_a_run_nothing_can_run_beside_every_thread(tmp_path, monkeypatch):
    """The supervised start, which every other run waits for, trains with parallel x threads
    threads; the runs from it share the machine (threads each), as does a start that another
    ready run can run beside."""
    exp = experiment.load_experiment(_experiment_file(tmp_path, {
        'sup': dict(stage='sup', config=SUP, seeds=[0]),
        'mt': dict(config=MT, start='sup')}))
    threads = {}

    def fake_command(exp_, job, load_from):
        ckpt = job['work_dir'] + '/iter_9.pth'
        code = (f'import os; open({job["work_dir"] + "/threads"!r}, "w").write('
                f'os.environ["OMP_NUM_THREADS"]); open({ckpt!r}, "w"); '
                f'open({job["work_dir"] + "/last_checkpoint"!r}, "w").write({ckpt!r})')
        return [sys.executable, '-c', code]

    def read_threads():
        for arm_seed in ('sup_s0', 'mt_s0', 'mt_s1', 'free_s0'):
            path = tmp_path / 'wd' / arm_seed / 'threads'
            if path.exists():
                threads[arm_seed] = path.read_text()
        return threads

    monkeypatch.setattr(experiment, 'command', fake_command)
    assert experiment.run_jobs(exp, experiment.plan(exp), parallel=2, threads=3) == []
    assert read_threads() == {'sup_s0': '6', 'mt_s0': '3', 'mt_s1': '3'}
    # with a run that needs no start beside it, the start shares the machine
    tmp_path = tmp_path / 'other'
    tmp_path.mkdir()
    exp = experiment.load_experiment(_experiment_file(tmp_path, {
        'sup': dict(stage='sup', config=SUP, seeds=[0]),
        'free': dict(config=MT, seeds=[0])}))
    threads.clear()
    assert experiment.run_jobs(exp, experiment.plan(exp), parallel=2, threads=1) == []
    assert read_threads() == {'sup_s0': '1', 'free_s0': '1'}


def test_experiment_resumes_an_interrupted_run_started_with_the_same_command(tmp_path,
                                                                              monkeypatch):
    """A training run with a last_checkpoint from an attempt with the same command resumes
    (--resume, log appended); another command, no record of the attempt, or a test arm start
    over."""
    exp = experiment.load_experiment(_experiment_file(tmp_path, {
        'sup': dict(stage='sup', config=SUP, seeds=[0]),
        'ref': dict(stage='test', config=MT, start='sup', seeds=[0])}))
    job = experiment.plan(exp, ['sup'])[0]
    cmd = experiment.command(exp, job, None)
    wd = job['work_dir']
    os.makedirs(wd)
    with open(osp.join(wd, experiment.STARTED), 'w') as f:
        json.dump(dict(command=cmd), f)
    assert not experiment.resumes(wd, cmd)  # no checkpoint yet
    with open(osp.join(wd, 'last_checkpoint'), 'w') as f:
        f.write(osp.join(wd, 'iter_5.pth'))
    assert experiment.resumes(wd, cmd)
    assert not experiment.resumes(wd, cmd[:-1] + ['randomness.seed=7'])  # another command
    test_cmd = experiment.command(exp, experiment.plan(exp, ['ref'])[0], '/ckpt/iter_5.pth')
    with open(osp.join(wd, experiment.STARTED), 'w') as f:
        json.dump(dict(command=test_cmd), f)
    assert not experiment.resumes(wd, test_cmd)  # tools/test.py has nothing to resume
    os.remove(osp.join(wd, experiment.STARTED))
    assert not experiment.resumes(wd, cmd)  # no record of what the attempt ran

    # the runner: the attempt's command recorded, --resume appended, the log appended to
    monkeypatch.setattr(experiment, 'command', lambda exp_, job_, load_from: [
        sys.executable, '-c', 'import sys; print("argv", sys.argv[1:])'])
    with open(job['log'], 'w') as f:
        f.write('first attempt\n')
    monkeypatch.setattr(experiment, 'resumes', lambda work_dir, cmd_: True)
    assert experiment.run_jobs(exp, [job], parallel=1, threads=1) == []
    with open(job['log']) as f:
        assert f.read() == "first attempt\nargv ['--resume']\n"
    with open(osp.join(wd, experiment.STARTED)) as f:
        assert '--resume' not in json.load(f)['command']
    os.remove(osp.join(wd, 'done.json'))
    monkeypatch.setattr(experiment, 'resumes', lambda work_dir, cmd_: False)
    assert experiment.run_jobs(exp, [job], parallel=1, threads=1) == []
    with open(job['log']) as f:
        assert f.read() == 'argv []\n'


def test_experiment_file_mistakes_are_named(tmp_path):
    from mtkit.utils.errors import ConfigKeyError
    cases = [({'a': dict(config='configs/nope.py')}, r"arms.a.config 'configs/nope.py' does "),
             ({'a': dict(config=SUP, sed=[1])}, r"arms.a has unknown key\(s\) \['sed'\]"),
             ({'a': dict(config=SUP, start='b')}, r"arms.a.start 'b' is neither an arm"),
             ({'a': dict(config=SUP, stage='pre')}, r"arms.a.stage must be one of"),
             ({'a': dict(config=SUP, stage='test')}, r"stage='test' but no start")]
    for arms, msg in cases:
        with pytest.raises(ConfigKeyError, match=msg):
            experiment.load_experiment(_experiment_file(tmp_path, arms))
    exp = experiment.load_experiment(_experiment_file(tmp_path, {'a': dict(config=SUP)}))
    with pytest.raises(ConfigKeyError, match=r"unknown arm\(s\) \['b'\]"):
        experiment.plan(exp, ['b'])


def test_experiment_test_arm_evaluates_its_start_and_reads_as_iteration_0(tmp_path):
    """A stage='test' arm runs tools/test.py on its start checkpoint (--out in its folder), and
    the tables read that file as one validation at iteration 0, beside the trained arms."""
    exp = experiment.load_experiment(_experiment_file(tmp_path, {
        'sup': dict(stage='sup', config=SUP, seeds=[0]),
        'ref': dict(stage='test', config=MT, start='sup', seeds=[0],
                    options={'test_evaluator.ann_file': 'val.json'})}))
    job, = experiment.plan(exp, ['ref'])
    cmd = experiment.command(exp, job, '/ckpt/iter_5.pth')
    assert cmd[1:4] == [osp.join(REPO, 'tools', 'test.py'), osp.join(REPO, MT),
                        '/ckpt/iter_5.pth']
    out = cmd[cmd.index('--out') + 1]
    assert out == osp.join(job['work_dir'], 'test_metrics.json')
    assert 'test_evaluator.ann_file=val.json' in cmd and not any(
        c.startswith('load_from=') for c in cmd)
    os.makedirs(job['work_dir'])
    with open(out, 'w') as f:
        json.dump({'teacher/coco/bbox_mAP': 0.5, 'student/coco/bbox_mAP': 0.5,
                   'teacher/coco/fog1_bbox_mAP': 0.6, 'teacher/IoU.zero': 40.0,
                   'teacher/loss': 1.0}, f)
    groups = read_experiment_runs(str(tmp_path / 'wd'))
    assert groups['ref'][0]['iteration'] == 0
    assert groups['ref'][0]['metrics']['teacher/coco/fog1_bbox_mAP'] == 0.6
    assert groups['ref'][0]['metrics']['teacher/IoU.zero'] == 40.0  # per-class IoU
    assert 'teacher/loss' not in groups['ref'][0]['metrics']


@pytest.mark.parametrize('name', sorted(osp.basename(p)[:-3] for p in glob.glob(
    osp.join(REPO, 'experiments', '*.py'))))
def test_model_zoo_experiment_files_load(name):
    """Every arm of the model zoo's experiments is a config file that exists, plus options."""
    exp = experiment.load_experiment(osp.join(REPO, 'experiments', f'{name}.py'))
    assert all(osp.isfile(osp.join(REPO, a['config'])) for a in exp['arms'].values())
    assert {a.get('start') for a in exp['arms'].values()} - {None} <= set(exp['arms'])


def test_demo_table_ends_with_the_model_zoo_gain_beside_its_own(tmp_path):
    """A short run's gain beside the model zoo's measured one, each labeled."""
    exp = experiment.load_experiment(osp.join(REPO, 'experiments', 'demo.py'))
    rows = {'mt': {'teacher/coco/bbox_mAP': (0.568, None), 'seeds': [0], 'iteration': 300},
            'sup_ema': {'teacher/coco/bbox_mAP': (0.572, None), 'seeds': [0],
                        'iteration': 300}}
    lines = seed_table.reference_lines(rows, exp['table'])
    text = '\n'.join(lines)
    assert '| this run (one short run: its gain is within run-to-run noise) | 0.568 | 0.572 | ' \
        '-0.004 | 0 | 300 |' in text
    with open(osp.join(REPO, 'model_zoo', 'digitscenes_det_converged.json')) as f:
        zoo = json.load(f)['arms']
    gain = zoo['mt_long']['teacher'][0] - zoo['sup_ema_long']['teacher'][0]
    measured = [line for line in lines if line.startswith('| model zoo, measured')]
    assert len(measured) == 1 and f'| {gain:+.3f} | 0,1,2 | 3000 |' in measured[0]
    # a reference arm the file lacks is an error naming the file
    bad = dict(exp['table'], reference=dict(exp['table']['reference'], arm='nope'))
    with pytest.raises(KeyError, match='digitscenes_det_converged.json'):
        seed_table.reference_lines(rows, bad)


def test_experiment_table_leaves_out_runs_still_going_and_names_them(tmp_path):
    """A run tools/experiment.py started and that has not finished (started.json, no
    done.json: another invocation still trains it, or it failed) is not in the table, which
    names it; a finished run, or one the tool did not start, is read."""
    wd = tmp_path / 'wd'
    for name, files in [('a_s0', ['started.json', 'done.json']), ('a_s1', ['started.json']),
                        ('a_s2', [])]:
        (wd / name).mkdir(parents=True)
        for f in files:
            (wd / name / f).write_text('{}')
        (wd / name / 'test_metrics.json').write_text(json.dumps({'teacher/mIoU': 1.0}))
    assert seed_table.unfinished_runs(str(wd)) == ['a_s1']
    assert sorted(read_experiment_runs(str(wd))['a']) == [0, 2]
    exp = experiment.load_experiment(_experiment_file(tmp_path, {'a': dict(config=MT)}))
    assert experiment.write_table(exp).endswith('left out, not finished: a_s1')


def test_score_pr_curve_tool_scores_fixed_and_run_thresholds(tmp_path, capsys):
    """tools/score_pr_curve.py: per-class precision / recall at the fixed threshold and at a
    run's logged per-class thresholds (mean over the second half), by hand; files that do not
    fit each other are named."""
    from tools import score_pr_curve
    preds = {'classes': ['a', 'b'], 'predictions': {
        '1': {'bboxes': [[0, 0, 10, 10], [0, 0, 10, 10], [20, 20, 30, 30]],
              'scores': [0.9, 0.45, 0.7], 'labels': [0, 1, 1]},
        '2': {'bboxes': [[0, 0, 10, 10]], 'scores': [0.3], 'labels': [1]}}}
    gt = {'images': [{'id': 1}, {'id': 2}],
          'categories': [{'id': 7, 'name': 'b'}, {'id': 3, 'name': 'a'}],
          'annotations': [{'id': 1, 'image_id': 1, 'category_id': 3, 'bbox': [0, 0, 10, 10]},
                          {'id': 2, 'image_id': 1, 'category_id': 7, 'bbox': [20, 20, 10, 10]},
                          {'id': 3, 'image_id': 2, 'category_id': 7, 'bbox': [0, 0, 10, 10]},
                          {'id': 4, 'image_id': 2, 'category_id': 7, 'bbox': [40, 40, 5, 5],
                           'iscrowd': 1}]}
    (tmp_path / 'preds.json').write_text(json.dumps(preds))
    (tmp_path / 'gt.json').write_text(json.dumps(gt))
    run = tmp_path / 'gmm_run'
    # class b's threshold: 0.9 early, then 0.6 and 0.4 in the second half -> 0.5
    write_scalars(run, [{'pseudo/thr/a': 0.2, 'pseudo/thr/b': 0.9, 'step': 50},
                        {'pseudo/thr/a': 0.95, 'pseudo/thr/b': 0.6, 'step': 100},
                        {'pseudo/thr/a': 0.95, 'pseudo/thr/b': 0.4, 'step': 150}])
    assert score_pr_curve.main([str(tmp_path / 'preds.json'), '--ann-file',
                                str(tmp_path / 'gt.json'), '--run', str(run),
                                '--out', str(tmp_path / 'out')]) == 0
    res = json.loads((tmp_path / 'out' / 'score_pr_curve.json').read_text())
    assert res['gt'] == [1, 2]  # the crowd box left out
    # fixed 0.5: a keeps 0.9 (right): P 1, R 1; b keeps 0.7 (right): P 1, R 1/2
    assert res['at']['fixed']['precision'] == [1.0, 1.0]
    assert res['at']['fixed']['recall'] == [1.0, 0.5]
    # the run's: a at 0.95 keeps nothing (P undefined, R 0); b at 0.5: as fixed
    at_run = res['at']['gmm_run']
    assert at_run['thresholds'] == pytest.approx([0.95, 0.5])
    assert math.isnan(at_run['precision'][0]) and at_run['recall'] == [0.0, 0.5]
    # on the grid, class b at 0.3: all three b boxes kept, two right (0.7 and 0.3), both found
    i = res['thresholds'].index(0.3)
    assert res['precision'][1][i] == pytest.approx(2 / 3) and res['recall'][1][i] == 1.0
    assert (tmp_path / 'out' / 'score_pr_curve.png').stat().st_size > 5000
    assert '| b | 2 | 0.50 / 1.00 / 0.50 | 0.50 / 1.00 / 0.50 |' in capsys.readouterr().out
    # what does not fit is named
    gt['categories'].append({'id': 9, 'name': 'c'})
    (tmp_path / 'gt2.json').write_text(json.dumps(gt))
    assert score_pr_curve.main([str(tmp_path / 'preds.json'), '--ann-file',
                                str(tmp_path / 'gt2.json')]) == 2
    assert "category 'c' (id 9) is not one of the predictions' classes" in \
        capsys.readouterr().err
    del preds['predictions']['2']
    (tmp_path / 'preds2.json').write_text(json.dumps(preds))
    assert score_pr_curve.main([str(tmp_path / 'preds2.json'), '--ann-file',
                                str(tmp_path / 'gt.json')]) == 2
    assert 'no predictions for image id(s) [\'2\']' in capsys.readouterr().err
    assert score_pr_curve.main([str(tmp_path / 'preds.json'), '--ann-file',
                                str(tmp_path / 'gt.json'), '--run', str(tmp_path)]) == 2
    assert 'no */vis_data/scalars.json' in capsys.readouterr().err
