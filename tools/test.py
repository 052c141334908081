"""Evaluate a checkpoint: python tools/test.py CONFIG CHECKPOINT [--work-dir] [--cfg-options]
                                             [--allow-partial-load]

With a teacher-student config (``test_cfg=dict(type='mtkit.TeacherStudentTestLoop')``) both
models are evaluated and reported as ``teacher/...`` and ``student/...``. A checkpoint that
does not fit the config's model (a tensor missing on either side, or of another shape) is
refused (``mtkit.CheckpointMatchHook``) unless ``--allow-partial-load`` is given.
"""
import argparse
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv=None):
    from mmengine.config import DictAction
    p = argparse.ArgumentParser(description='Test a checkpoint with mtkit')
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--work-dir')
    p.add_argument('--out', help='write the metrics as JSON to this file')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    p.add_argument('--allow-partial-load', action='store_true',
                   help='evaluate a checkpoint that does not fit the model (tensors missing or '
                   'of another shape stay at their initialisation; MMEngine warns)')
    p.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    p.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = p.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main(argv=None):
    args = parse_args(argv)
    import mtkit  # noqa: F401
    from mmengine.config import Config
    from mmengine.runner import Runner
    for path, what in ((args.config, 'config file'), (args.checkpoint, 'checkpoint')):
        if not osp.isfile(path):
            raise FileNotFoundError(f'{what} not found: {path}')
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        './work_dirs', osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    cfg.resume = False
    if not args.allow_partial_load:
        cfg.custom_hooks = list(cfg.get('custom_hooks') or []) + [
            dict(type='mtkit.CheckpointMatchHook', name=args.checkpoint)]
    from mtkit.engine.launch import finish_launch, prepare_launch
    prepare_launch(cfg)  # CPU processes: gloo, no CUDA device selection
    try:
        metrics = Runner.from_cfg(cfg).test()
    finally:
        finish_launch()  # a gloo group left to the interpreter's exit can abort the process
    if args.out:
        with open(args.out, 'w') as f:
            json.dump({k: float(v) for k, v in metrics.items()}, f, indent=2)
    return metrics


if __name__ == '__main__':
    main()
