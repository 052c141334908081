"""Online test-time adaptation of a trained classifier over a corruption stream.

    python tools/tta.py CONFIG CHECKPOINT --method rmt [--setting continual|reset|gradual]
        [--seed 0] [--out results.json] [--domains gaussian_noise-5 fog-5 ...]

CONFIG is the source model's training config with a ``tta`` section (data root, severity,
batch size, method configs); CHECKPOINT its trained weights. Every batch is predicted before
the method adapts on it. Per-domain and mean error (%) and images/s go to the log and to
``--out`` (default ``work_dirs/tta/{method}_{setting}_s{seed}.json``).
"""
import argparse
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--method', required=True, help='a key of the config\'s tta.methods')
    p.add_argument('--setting', default='continual', choices=['continual', 'reset', 'gradual'])
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--domains', nargs='*', help='override the stream (folder names)')
    p.add_argument('--out')
    p.add_argument('--log-every', type=int, default=0)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import torch
    from mmengine.config import Config
    from mmengine.logging import MMLogger

    import mtkit  # noqa: F401
    from mtkit.tta.stream import run_tta
    cfg = Config.fromfile(args.config)
    MMLogger.get_instance('mtkit-tta', log_level='INFO')
    torch.manual_seed(args.seed)
    result = run_tta(cfg, args.checkpoint, args.method, args.setting, args.seed,
                     domains=args.domains, log_every=args.log_every)
    out = args.out or osp.join('work_dirs', 'tta', f'{args.method}_{args.setting}_s{args.seed}.json')
    os.makedirs(osp.dirname(out) or '.', exist_ok=True)
    with open(out, 'w') as f:
        json.dump(result, f, indent=1)
    print(f'{args.method} ({args.setting}, seed {args.seed}): mean error '
          f'{result["mean_error"]:.2f}%, {result["images_per_s"]:.0f} images/s -> {out}')


if __name__ == '__main__':
    main()
