"""Generate MovingDigits: clips of digits moving over photo / texture backgrounds, with
per-frame semantic and instance masks, boxes and labeled / unlabeled clip splits.

    python tools/make_moving_digits.py [--out data/moving_digits] [--seed 0]
        [--num-train 1200] [--num-val 60] [--num-test 60] [--frames 8] [--img-size 64]

About 20 s for the defaults on one core.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def main(argv=None):
    from dataclasses import asdict

    from mtkit.generate.common import holds_settings, report_generation
    from mtkit.generate.moving_digits import MovingDigitsConfig, generate_moving_digits
    default = MovingDigitsConfig()
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument('--out', default='data/moving_digits')
    p.add_argument('--seed', type=int, default=default.seed)
    for split in ('train', 'val', 'test'):
        p.add_argument(f'--num-{split}', type=int, default=default.num_clips[split])
    p.add_argument('--frames', type=int, default=default.frames)
    p.add_argument('--img-size', type=int, default=default.img_size)
    p.add_argument('--percents', type=float, nargs='+', default=list(default.labeled_percents))
    p.add_argument('--force', action='store_true')
    args = p.parse_args(argv)
    cfg = MovingDigitsConfig(seed=args.seed, frames=args.frames, img_size=args.img_size,
                             num_clips=dict(train=args.num_train, val=args.num_val,
                                            test=args.num_test),
                             labeled_percents=tuple(args.percents))
    if not args.force and holds_settings(args.out, dict(config=asdict(cfg))):
        print(f'{args.out} already holds MovingDigits with these settings (use --force)')
        return
    report_generation('MovingDigits', args.out, lambda: generate_moving_digits(args.out, cfg),
                      'clips', 'digits')


if __name__ == '__main__':
    main()
