"""Generate DigitScenes-Fog (COCO layout): the foggy, class-imbalanced target domain of
source-free domain-adaptive detection, with labeled val / test per fog severity.

    python tools/make_digitscenes_fog.py [--out data/digitscenes_fog] [--seed 0]
        [--num-train 2000 --num-val 200 --num-test 200] [--severities 1 2 3 4 5]
        [--imbalance 10] [--class-order 3 1 4 ...]
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument('--out', default='data/digitscenes_fog')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--num-train', type=int, default=2000)
    p.add_argument('--num-val', type=int, default=200)
    p.add_argument('--num-test', type=int, default=200)
    p.add_argument('--img-size', type=int, default=128)
    p.add_argument('--severities', type=int, nargs='+', default=[1, 2, 3, 4, 5])
    p.add_argument('--imbalance', type=float, default=10.0,
                   help='commonest / rarest class frequency of the train split')
    p.add_argument('--class-order', type=int, nargs=10,
                   help='digits from the commonest to the rarest (default: drawn from --seed)')
    p.add_argument('--force', action='store_true', help='regenerate even if meta.json matches')
    args = p.parse_args(argv)
    from mtkit.generate.common import generate_once
    from mtkit.generate.digitscenes_fog import DigitScenesFogConfig, generate_fog
    cfg = DigitScenesFogConfig(
        seed=args.seed, img_size=args.img_size, severities=tuple(args.severities),
        num_images=dict(train=args.num_train, val=args.num_val, test=args.num_test),
        imbalance=args.imbalance,
        class_order=tuple(args.class_order) if args.class_order else None)
    meta = generate_once('make_digitscenes_fog', 'DigitScenes-Fog', args.out, cfg,
                         lambda: generate_fog(args.out, cfg), args.force)
    if meta is not None:
        print('train class order (commonest first): ' + ' '.join(meta['class_order']))


if __name__ == '__main__':
    main()
