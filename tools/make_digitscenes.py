"""Generate DigitScenes (COCO + Cityscapes layouts, labeled/unlabeled splits) offline.

    python tools/make_digitscenes.py [--out data/digitscenes] [--seed 0]
        [--num-train 2000 --num-val 300 --num-test 300] [--img-size 128]
        [--extra-unlabeled N]   (N unlabeled-only images, digits from the train pool)
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument('--out', default='data/digitscenes')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--num-train', type=int, default=2000)
    p.add_argument('--num-val', type=int, default=300)
    p.add_argument('--num-test', type=int, default=300)
    p.add_argument('--img-size', type=int, default=128)
    p.add_argument('--percents', type=float, nargs='*', default=[1, 5, 10])
    p.add_argument('--folds', type=int, nargs='*', default=[1])
    p.add_argument('--extra-unlabeled', type=int, default=0,
                   help='extra unlabeled-only images in coco/unlabeled (like COCO unlabeled2017)')
    p.add_argument('--force', action='store_true', help='regenerate even if meta.json matches')
    args = p.parse_args(argv)
    from mtkit.generate.digitscenes import DigitScenesConfig, generate
    from mtkit.generate.common import holds_settings, report_generation
    from dataclasses import asdict
    cfg = DigitScenesConfig(
        seed=args.seed, img_size=args.img_size,
        num_images=dict(train=args.num_train, val=args.num_val, test=args.num_test),
        percents=tuple(args.percents), folds=tuple(args.folds),
        extra_unlabeled=args.extra_unlabeled)
    if not args.force and holds_settings(args.out, dict(config=asdict(cfg))):
        from mtkit.generate.digitscenes import write_seg_splits
        write_seg_splits(args.out, cfg)  # cheap; older outputs lacked these lists
        print(f'{args.out} already holds DigitScenes with these settings (use --force)')
        return
    report_generation('DigitScenes', args.out, lambda: generate(args.out, cfg), 'images',
                      'objects')


if __name__ == '__main__':
    main()
