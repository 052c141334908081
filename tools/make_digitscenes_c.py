"""Generate DigitScenes-C: DigitScenes segmentation test images with the 15 ImageNet-C
corruptions (test-time adaptation of a segmentor).

    python tools/make_digitscenes_c.py [--cityscapes data/digitscenes/cityscapes]
        [--out data/digitscenes_c] [--severities 5] [--max-images N] [--seed 0] [--jobs 1]

Needs DigitScenes (python tools/make_digitscenes.py). About 2 minutes for 300 images at
severity 5 on one core (glass blur's pixel shuffling is the slow one).
"""
import argparse
import os.path as osp
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument('--cityscapes', default='data/digitscenes/cityscapes')
    p.add_argument('--out', default='data/digitscenes_c')
    p.add_argument('--split', default='test')
    p.add_argument('--severities', type=int, nargs='+', default=[5])
    p.add_argument('--corruptions', nargs='+', help='default: all 15')
    p.add_argument('--max-images', type=int)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--jobs', type=int, default=1, help='processes (one domain each)')
    p.add_argument('--force', action='store_true')
    args = p.parse_args(argv)
    from mtkit.generate.digitscenes_c import write_digitscenes_c
    from mtkit.generate.common import holds_settings
    from mtkit.generate.corruptions import CORRUPTIONS
    corruptions = args.corruptions or list(CORRUPTIONS)
    settings = dict(severities=args.severities, seed=args.seed, corruptions=corruptions,
                    split=args.split)
    if not args.force and holds_settings(args.out, settings):
        print(f'{args.out} already holds DigitScenes-C with these settings (use --force)')
        return
    t0 = time.time()
    meta = write_digitscenes_c(args.cityscapes, args.out, args.severities, corruptions,
                               args.split, args.seed, args.max_images, args.jobs)
    print(f'DigitScenes-C written to {args.out} in {time.time() - t0:.1f}s: '
          f'{meta["images"]} images x {len(meta["domains"])} domains')


if __name__ == '__main__':
    main()
