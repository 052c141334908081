"""Run an experiment -- arms x seeds of ``tools/train.py`` -- and write its mean +- std table.

    python tools/experiment.py EXPERIMENT [--arms NAME ...] [--seeds S ...] [--parallel N]
                               [--threads T] [--work-dir DIR] [--dry-run] [--table-only]

``EXPERIMENT`` is a small MMEngine config file (``configs/experiments/*.py``):

* ``work_dir``: where the runs go, one folder ``{arm}_s{seed}`` each (log beside it);
* ``seeds``: the default seeds of the semi-supervised arms;
* ``options``: ``--cfg-options`` of every run (e.g. data-loading workers);
* ``arms``: ``{name: dict(config=..., options={key: value}, seeds=[...], start=...,
  stage='sup'|'semi', baseline=..., full=..., reported='teacher'|'student', pseudo=True)}``.
  ``start`` is another arm (its seed-0 run's last checkpoint, from that run's
  ``last_checkpoint``; with ``start_seed='same'`` each seed's run starts from the same seed's
  run of the start arm) or a checkpoint path; it becomes ``load_from``. An arm waits for the
  arm it starts from. ``stage='sup'`` arms are the headroom runs (the table lists them at every
  validation); ``stage='test'`` arms only evaluate their start checkpoint with
  ``tools/test.py`` (e.g. a source model on the target domain, reported at iteration 0; its
  ``options`` choose the evaluated split). ``{work_dir}`` in an option value is the experiment's
  work dir;
* ``concat_files``: ``{name: [path, ...]}``: text files written into the work dir before any
  run, the sorted lines of the listed files (e.g. the list of every training image);
* ``table``: ``metric`` (the key after ``teacher/`` / ``student/``), ``models``, ``extra``
  metrics, ``pseudo`` diagnostics (``pseudo/...`` keys), ``digits``, ``baseline`` and
  ``full`` (the default references: supervised + EMA and its full-label counterpart),
  ``headroom_metric`` (the headroom runs' key).

Runs ``--parallel`` jobs at a time with ``OMP_NUM_THREADS=--threads`` each; a run that nothing
can run beside (a supervised start that every other run waits for) gets all
``--parallel x --threads`` threads. A run whose folder
holds ``done.json`` (written when it ended with exit code 0) is skipped, so an interrupted
experiment continues where it stopped; a training run interrupted after a checkpoint resumes
from it (``tools/train.py --resume``, its log appended to) when its command is the one it was
started with (``started.json``), and starts over otherwise. Then ``{work_dir}/table.md`` and
``table.json`` are written (``tools/seed_table.py``, :func:`experiment_tables`) and the table
is printed; a run started and not finished (another invocation still trains it, or it failed)
is left out of it and named below it. A run that fails stops nothing else; the tool exits 1
naming it and its log.
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import List, Optional, Tuple

from mmengine.config import Config

from mtkit.utils.errors import ConfigKeyError

if __package__:
    from .collect_results import TEST_METRICS
    from .seed_table import (experiment_tables, read_experiment_runs, unfinished_runs,
                             write_experiment_json)
else:  # python tools/experiment.py
    from collect_results import TEST_METRICS
    from seed_table import (experiment_tables, read_experiment_runs, unfinished_runs,
                            write_experiment_json)

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
STAGES = ('sup', 'semi', 'test')
ARM_KEYS = {'config', 'options', 'seeds', 'start', 'start_seed', 'stage', 'baseline', 'full',
            'reported', 'pseudo'}


def option_value(value, work_dir: str) -> str:
    """A ``--cfg-options`` value: lists as ``[a,b]``, ``{work_dir}`` filled in."""
    if isinstance(value, (list, tuple)):
        return '[' + ','.join(option_value(v, work_dir) for v in value) + ']'
    return str(value).replace('{work_dir}', work_dir)


def load_experiment(path: str, work_dir: Optional[str] = None) -> dict:
    """The experiment file as a dict, checked: every arm has an existing config, known keys,
    and a ``start`` that is an arm or names a file (checked when the run starts)."""
    cfg = Config.fromfile(path).to_dict()
    for key in ('work_dir', 'arms', 'table'):
        if key not in cfg:
            raise ConfigKeyError(f'{path}: no {key!r}')
    cfg['work_dir'] = work_dir or cfg['work_dir']
    cfg.setdefault('seeds', [0])
    cfg.setdefault('options', {})
    for name, arm in cfg['arms'].items():
        unknown = set(arm) - ARM_KEYS
        if unknown:
            raise ConfigKeyError(f'{path}: arms.{name} has unknown key(s) {sorted(unknown)}; '
                                 f'known: {sorted(ARM_KEYS)}')
        if 'config' not in arm:
            raise ConfigKeyError(f'{path}: arms.{name} has no config')
        if not osp.isfile(osp.join(REPO, arm['config'])):
            raise ConfigKeyError(f'{path}: arms.{name}.config {arm["config"]!r} does not exist')
        if arm.get('stage', 'semi') not in STAGES:
            raise ConfigKeyError(f"{path}: arms.{name}.stage must be one of {STAGES}, got "
                                 f"{arm['stage']!r}")
        if arm.get('stage') == 'test' and arm.get('start') is None:
            raise ConfigKeyError(f"{path}: arms.{name} has stage='test' but no start (the "
                                 f'checkpoint it evaluates)')
        start = arm.get('start')
        if start is not None and start not in cfg['arms'] and not start.endswith('.pth'):
            raise ConfigKeyError(f'{path}: arms.{name}.start {start!r} is neither an arm '
                                 f'({sorted(cfg["arms"])}) nor a .pth checkpoint')
        if 'start_seed' in arm and (arm['start_seed'] != 'same' or start not in cfg['arms']):
            raise ConfigKeyError(f"{path}: arms.{name}.start_seed must be 'same' and its start "
                                 f"an arm, got start_seed={arm['start_seed']!r}, "
                                 f'start={start!r}')
    for key in ('metric', ):
        if key not in cfg['table']:
            raise ConfigKeyError(f'{path}: table has no {key!r}')
    return cfg


def run_dir(exp: dict, arm: str, seed: int) -> str:
    return osp.join(exp['work_dir'], f'{arm}_s{seed}')


def start_run(exp: dict, arm: str, seed: Optional[int] = None) -> str:
    """The run folder that seed ``seed`` of the arm ``arm`` starts from: its start arm's seed 0
    (else its first seed), or its seed ``seed`` with ``start_seed='same'``."""
    start = exp['arms'][arm]['start']
    if exp['arms'][arm].get('start_seed') == 'same':
        if seed is None:
            raise ValueError(f"arm {arm} starts from the same seed of {start}: name the seed")
        return run_dir(exp, start, seed)
    seeds = exp['arms'][start].get('seeds', exp['seeds'])
    return run_dir(exp, start, 0 if 0 in seeds else seeds[0])


def start_checkpoint(exp: dict, arm: str, seed: Optional[int] = None) -> Optional[str]:
    """The ``load_from`` of seed ``seed`` of an arm: the last checkpoint of the run it starts
    from (:func:`start_run`), or the path given; None when that run has not finished."""
    start = exp['arms'][arm].get('start')
    if start is None:
        return None
    if start not in exp['arms']:
        return start
    folder = start_run(exp, arm, seed)
    last = osp.join(folder, 'last_checkpoint')
    if not osp.isfile(osp.join(folder, 'done.json')) or not osp.isfile(last):
        return None  # not finished (a checkpoint of a run still going is no start)
    with open(last) as f:
        return f.read().strip()


def plan(exp: dict, arms: Optional[List[str]] = None,
         seeds: Optional[List[int]] = None) -> List[dict]:
    """The jobs of the selected arms and seeds (every arm's own seeds by default; ``seeds``
    overrides the semi-supervised arms' seeds), skipping finished runs."""
    names = arms or list(exp['arms'])
    unknown = [a for a in names if a not in exp['arms']]
    if unknown:
        raise ConfigKeyError(f'unknown arm(s) {unknown}; the experiment has '
                             f'{list(exp["arms"])}')
    jobs = []
    for name in names:
        spec = exp['arms'][name]
        arm_seeds = spec.get('seeds', exp['seeds'])
        if seeds is not None and spec.get('stage', 'semi') != 'sup':
            arm_seeds = seeds
        for seed in arm_seeds:
            wd = run_dir(exp, name, seed)
            if osp.isfile(osp.join(wd, 'done.json')):
                continue
            jobs.append(dict(arm=name, seed=seed, work_dir=wd, log=wd + '.log'))
    return jobs


def command(exp: dict, job: dict, load_from: Optional[str]) -> List[str]:
    spec = exp['arms'][job['arm']]
    options = dict(exp['options'])
    options.update(spec.get('options', {}))
    options['randomness.seed'] = job['seed']
    cfg_options = ['--cfg-options'] + [f'{k}={option_value(v, exp["work_dir"])}'
                                       for k, v in options.items()]
    config = osp.join(REPO, spec['config'])
    if spec.get('stage') == 'test':
        return [sys.executable, osp.join(REPO, 'tools', 'test.py'), config, load_from,
                '--work-dir', job['work_dir'], '--out',
                osp.join(job['work_dir'], TEST_METRICS)] + cfg_options
    if load_from is not None:
        cfg_options.append(f'load_from={load_from}')
    return [sys.executable, osp.join(REPO, 'tools', 'train.py'), config, '--work-dir',
            job['work_dir']] + cfg_options


STARTED = 'started.json'


def resumes(work_dir: str, cmd: List[str]) -> bool:
    """Whether a training run continues an interrupted attempt: its folder has a
    ``last_checkpoint`` and the attempt (``started.json``) ran the same command."""
    if cmd[1] != osp.join(REPO, 'tools', 'train.py') or \
            not osp.isfile(osp.join(work_dir, 'last_checkpoint')):
        return False
    try:
        with open(osp.join(work_dir, STARTED)) as f:
            return json.load(f).get('command') == cmd
    except (OSError, ValueError):
        return False


def write_concat_files(exp: dict) -> None:
    for name, sources in exp.get('concat_files', {}).items():
        lines = []
        for src in sources:
            with open(osp.join(REPO, src)) as f:
                lines += [ln.rstrip('\n') for ln in f if ln.strip()]
        with open(osp.join(exp['work_dir'], name), 'w') as f:
            f.write('\n'.join(sorted(lines)) + '\n')


def start_state(exp: dict, job: dict, arms_pending: set) -> Tuple[str, Optional[str]]:
    """Whether ``job``'s start is there, and its ``load_from`` (None without one):
    ``'ready'`` (no start, or its checkpoint exists), ``'pending'`` (its start arm has runs to
    do in this invocation), ``'elsewhere'`` (its start run's folder exists: another invocation
    trains it) or ``'missing'``."""
    start = exp['arms'][job['arm']].get('start')
    load_from = start_checkpoint(exp, job['arm'], job['seed'])
    if start is None or load_from is not None:
        return 'ready', load_from
    if start in arms_pending:
        return 'pending', None
    folder = start_run(exp, job['arm'], job['seed']) if start in exp['arms'] else None
    return ('elsewhere' if folder is not None and osp.isdir(folder) else 'missing'), None


def run_jobs(exp: dict, jobs: List[dict], parallel: int, threads: int,
             dry_run: bool = False) -> List[dict]:
    """Run ``jobs``, ``parallel`` at a time with ``threads`` threads each, each waiting for the
    arm it starts from; returns the failed ones. A run that nothing can run beside (nothing
    else running, every other job waiting for a start arm of this invocation, e.g. a
    supervised start) gets ``parallel * threads`` threads."""
    pending, running, failed = list(jobs), [], []
    waiting = set()
    arms_pending = {j['arm'] for j in jobs}
    while pending or running:
        for job in list(pending):
            if len(running) >= parallel:
                break
            state, load_from = start_state(exp, job, arms_pending)
            start = exp['arms'][job['arm']].get('start')
            if state == 'pending':
                continue  # waits for its start arm
            if state == 'elsewhere' and not dry_run:
                if job['arm'] not in waiting:  # running in another invocation
                    print(f'{job["arm"]}_s{job["seed"]} waits for {start} '
                          f'({start_run(exp, job["arm"], job["seed"])}) to finish', flush=True)
                    waiting.add(job['arm'])
                continue
            if state != 'ready':
                raise ConfigKeyError(f'arm {job["arm"]} starts from {start}, which has no '
                                     f'finished run in {exp["work_dir"]}: run it first')
            if load_from is not None and not osp.isfile(load_from):
                raise ConfigKeyError(f'arm {job["arm"]}: its start checkpoint {load_from} '
                                     f'does not exist')
            pending.remove(job)
            alone = not running and all(start_state(exp, other, arms_pending)[0] == 'pending'
                                        for other in pending)
            n = threads * parallel if alone else threads
            cmd = command(exp, job, load_from)
            print(f'[{time.strftime("%H:%M:%S")}] start {job["arm"]}_s{job["seed"]} '
                  f'({n} thread{"s" if n > 1 else ""}): {" ".join(cmd)}', flush=True)
            if dry_run:
                continue
            os.makedirs(job['work_dir'], exist_ok=True)
            resume = resumes(job['work_dir'], cmd)
            with open(osp.join(job['work_dir'], STARTED), 'w') as f:
                json.dump(dict(command=cmd), f)
            if resume:
                print(f'  {job["arm"]}_s{job["seed"]} resumes its interrupted attempt',
                      flush=True)
                cmd = cmd + ['--resume']
            log = open(job['log'], 'a' if resume else 'w')
            env = dict(os.environ, OMP_NUM_THREADS=str(n), MKL_NUM_THREADS=str(n),
                       PYTHONUNBUFFERED='1')
            running.append((job, cmd, subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log,
                                                       stderr=subprocess.STDOUT), log))
        if dry_run:
            if pending:  # the rest wait for start arms that a dry run never finishes
                for job in pending:
                    print(f'(after {exp["arms"][job["arm"]]["start"]}) '
                          f'{job["arm"]}_s{job["seed"]}')
            return []
        for item in list(running):
            job, cmd, proc, log = item
            if proc.poll() is None:
                continue
            log.close()
            running.remove(item)
            if proc.returncode == 0:
                with open(osp.join(job['work_dir'], 'done.json'), 'w') as f:
                    json.dump(dict(command=cmd, finished=time.strftime('%Y-%m-%d %H:%M:%S')), f)
            else:
                failed.append(dict(job, returncode=proc.returncode))
                print(f'FAILED {job["arm"]}_s{job["seed"]} (exit {proc.returncode}); log: '
                      f'{job["log"]}', flush=True)
            if not any(j['arm'] == job['arm'] for j in pending) and \
                    not any(r[0]['arm'] == job['arm'] for r in running):
                arms_pending.discard(job['arm'])
        if running or waiting:
            time.sleep(2)
    return failed


def write_table(exp: dict, arms: Optional[List[str]] = None) -> str:
    groups = read_experiment_runs(exp['work_dir'], arms)
    text, rows = experiment_tables(groups, exp['arms'], exp['table'])
    with open(osp.join(exp['work_dir'], 'table.md'), 'w') as f:
        f.write(text + '\n')
    write_experiment_json(osp.join(exp['work_dir'], 'table.json'), groups, exp['arms'], rows)
    unfinished = unfinished_runs(exp['work_dir'])
    if unfinished:  # still going (another invocation) or failed: not in the table
        text += '\n\nleft out, not finished: ' + ', '.join(unfinished)
    return text


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('experiment')
    p.add_argument('--arms', nargs='+', help='only these arms (default: all)')
    p.add_argument('--seeds', nargs='+', type=int,
                   help="the semi-supervised arms' seeds (default: the experiment's)")
    p.add_argument('--parallel', type=int, default=2, help='runs at a time')
    p.add_argument('--threads', type=int, default=1,
                   help='OMP_NUM_THREADS of each run (a run nothing can run beside gets '
                   'parallel x threads)')
    p.add_argument('--work-dir', help="instead of the experiment's work_dir")
    p.add_argument('--dry-run', action='store_true', help='print the commands, run nothing')
    p.add_argument('--table-only', action='store_true', help='only write the table')
    args = p.parse_args(argv)
    try:
        exp = load_experiment(args.experiment, args.work_dir)
        os.makedirs(exp['work_dir'], exist_ok=True)
        failed = []
        if not args.table_only:
            write_concat_files(exp)
            jobs = plan(exp, args.arms, args.seeds)
            print(f'{len(jobs)} run(s) to do, {args.parallel} at a time, '
                  f'{args.threads} thread(s) each', flush=True)
            failed = run_jobs(exp, jobs, args.parallel, args.threads, args.dry_run)
            if args.dry_run:
                return 0
    except ConfigKeyError as e:
        print(f'{args.experiment}: {e}', file=sys.stderr)
        return 2
    print(write_table(exp))
    if failed:
        print('failed: ' + ', '.join(f'{j["arm"]}_s{j["seed"]} ({j["log"]})' for j in failed),
              file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
