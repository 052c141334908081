"""Generate DigitsC: DigitScenes digit crops, clean and with the 15 ImageNet-C corruptions.

    python tools/make_digitsc.py [--digitscenes data/digitscenes] [--out data/digitsc]
        [--severities 5] [--size 32] [--seed 0] [--jobs 1]

Needs DigitScenes (python tools/make_digitscenes.py). About a minute on one core.
"""
import argparse
import os.path as osp
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument('--digitscenes', default='data/digitscenes')
    p.add_argument('--out', default='data/digitsc')
    p.add_argument('--severities', type=int, nargs='+', default=[5])
    p.add_argument('--size', type=int, default=32)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--jobs', type=int, default=1, help='processes (one domain each)')
    p.add_argument('--force', action='store_true')
    args = p.parse_args(argv)
    from mtkit.generate.digitsc import write_digitsc
    from mtkit.generate.common import holds_settings
    settings = dict(severities=args.severities, size=args.size, seed=args.seed)
    if not args.force and holds_settings(args.out, settings):
        print(f'{args.out} already holds DigitsC with these settings (use --force)')
        return
    t0 = time.time()
    meta = write_digitsc(args.digitscenes, args.out, args.severities, size=args.size,
                         seed=args.seed, jobs=args.jobs)
    print(f'DigitsC written to {args.out} in {time.time() - t0:.1f}s: '
          + ', '.join(f'{k}: {v["crops"]} crops x {len(v["domains"])} domains'
                      for k, v in meta['splits'].items()))


if __name__ == '__main__':
    main()
