"""Train an mtkit (or any mmdet / mmseg) config with MMEngine's Runner.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp] [--check-data]
                                 [--cfg-options k=v ...] [--launcher none|pytorch|slurm|mpi]
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Train a detector / segmentor with mtkit')
    p.add_argument('config', help='config file')
    p.add_argument('--work-dir', help='where logs and checkpoints go '
                   '(default: ./work_dirs/<config name>)')
    p.add_argument('--resume', nargs='?', type=str, const='auto',
                   help='resume from CKPT, or from the latest checkpoint in the work dir '
                   'when no CKPT is given')
    p.add_argument('--amp', action='store_true', help='automatic mixed precision')
    p.add_argument('--check-data', action='store_true',
                   help='first decode every image and check every annotation of the train and '
                   'val datasets (tools/check_data.py); stop when anything is wrong')
    p.add_argument('--cfg-options', nargs='+', action=_DictAction, default={},
                   help='override config keys, e.g. train_cfg.max_iters=100')
    p.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    p.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = p.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def _DictAction(*args, **kwargs):
    from mmengine.config import DictAction
    return DictAction(*args, **kwargs)


def build_cfg(args):
    from mmengine.config import Config
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'config file not found: {args.config}')
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher
    if args.work_dir:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    if args.amp:
        wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if wrapper == 'AmpOptimWrapper':
            print('AMP is already enabled in the config', file=sys.stderr)
        elif wrapper != 'OptimWrapper':
            raise ValueError(f'--amp works with optim_wrapper type OptimWrapper, the config '
                             f'has {wrapper}')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.resume == 'auto':
        resume_or_load(cfg)
    elif args.resume is not None:
        if not osp.isfile(args.resume):
            raise FileNotFoundError(f'--resume checkpoint not found: {args.resume}')
        cfg.resume = True
        cfg.load_from = args.resume
    return cfg


def resume_or_load(cfg) -> None:
    """``--resume`` without a checkpoint: resume from the work dir's ``last_checkpoint`` when
    there is one (MMEngine's rule). With nothing to resume, say so and start from the config's
    ``load_from`` (MMEngine would drop it silently and train from scratch); a
    ``last_checkpoint`` naming a missing file is an error that names both."""
    marker = osp.join(cfg.work_dir, 'last_checkpoint')
    if not osp.isfile(marker):
        print(f'--resume: nothing to resume in {cfg.work_dir} (no last_checkpoint); starting '
              f'from load_from={cfg.get("load_from")!r}', file=sys.stderr)
        cfg.resume = False
        return
    with open(marker) as f:
        ckpt = f.read().strip()
    if not osp.isfile(ckpt):
        raise FileNotFoundError(f'--resume: {marker} names {ckpt!r}, which does not exist; '
                                f'give --resume CKPT, or fix or delete {marker}')
    cfg.resume = True
    cfg.load_from = None


def main(argv=None):
    args = parse_args(argv)
    import mtkit  # noqa: F401  (registers mtkit and the checkpoint allowlist)
    from mmengine.runner import Runner
    cfg = build_cfg(args)
    if args.check_data and int(os.environ.get('RANK', '0')) == 0 and args.launcher == 'none':
        from tools.check_data import run_check
        if not run_check(cfg, ('train', 'val')):
            raise SystemExit('--check-data: the data has problems (listed above); fix them '
                             'or train without --check-data')
    elif args.check_data:
        raise SystemExit('--check-data: run tools/check_data.py CONFIG before a distributed '
                         'launch (each rank would check the data again)')
    from mtkit.engine.launch import finish_launch, prepare_launch
    prepare_launch(cfg)  # CPU processes: gloo, no CUDA device selection
    try:
        Runner.from_cfg(cfg).train()
    finally:
        finish_launch()  # a gloo group left to the interpreter's exit can abort the process


if __name__ == '__main__':
    main()
