"""Online test-time adaptation of a trained classifier over a corruption stream.

    python tools/tta.py CONFIG CHECKPOINT --method rmt [tent ...]
        [--setting continual|reset|gradual] [--seed 0] [--out results.json]
        [--domains gaussian_noise-5 fog-5 ...] [--max-per-domain N] [--device auto]

CONFIG is the source model's training config with a ``tta`` section (data root, severity,
batch size, method configs); CHECKPOINT its trained weights. Every batch is predicted before
the method adapts on it. Per-domain and mean error (%) and images/s go to the log and to
``--out`` (default ``work_dirs/tta/{method}_{setting}_s{seed}.json``); with several methods,
each is run from the source model in turn and ``--out`` holds ``{method: result}``. A
segmentation config (an mmseg segmentor) is scored by per-domain and mean mIoU (%) instead.
"""
import argparse
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv=None):
    from mmengine.config import DictAction
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--method', required=True, nargs='+',
                   help='key(s) of the config\'s tta.methods')
    p.add_argument('--setting', default='continual', choices=['continual', 'reset', 'gradual'])
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--domains', nargs='*', help='override the stream (folder names)')
    p.add_argument('--out')
    p.add_argument('--log-every', type=int, default=0)
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config keys, e.g. tta.data_root=data/digitsc_all')
    p.add_argument('--max-per-domain', type=int,
                   help='a fixed random subset of this many images per domain (shorter streams)')
    p.add_argument('--device', default='auto',
                   help="'cpu', 'cuda', 'cuda:1'...; 'auto' (default): cuda when available")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import torch
    from mmengine.config import Config
    from mmengine.logging import MMLogger

    import mtkit  # noqa: F401
    from mtkit.tta.runner import run_tta
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    MMLogger.get_instance('mtkit-tta', log_level='INFO')
    device = args.device
    if device == 'auto':
        device = 'cuda' if torch.cuda.is_available() else 'cpu'
    name = args.method[0] if len(args.method) == 1 else 'methods'
    out = args.out or osp.join('work_dirs', 'tta', f'{name}_{args.setting}_s{args.seed}.json')
    os.makedirs(osp.dirname(out) or '.', exist_ok=True)
    results = {}
    for method in args.method:
        torch.manual_seed(args.seed)
        results[method] = r = run_tta(cfg, args.checkpoint, method, args.setting, args.seed,
                                      domains=args.domains, log_every=args.log_every,
                                      max_per_domain=args.max_per_domain, device=device)
        score = (f'mean mIoU {r["mean_miou"]:.2f}%' if 'mean_miou' in r else
                 f'mean error {r["mean_error"]:.2f}%')
        print(f'{method} ({args.setting}, seed {args.seed}): {score}, '
              f'{r["images_per_s"]:.0f} images/s')
        # written after every method: a run stopped part-way keeps the methods it finished
        with open(out, 'w') as f:
            json.dump(results[args.method[0]] if len(args.method) == 1 else results, f,
                      indent=1)
    print(f'-> {out}')


if __name__ == '__main__':
    main()
