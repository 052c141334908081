"""Generate DigitScenes-UDA (Cityscapes layout): a synthetic, labeled source domain and a
realistic target domain (unlabeled train, labeled val / test) for domain-adaptive segmentation.

    python tools/make_digitscenes_uda.py [--out data/digitscenes_uda] [--seed 0]
        [--num-source 2000 --num-source-val 200]
        [--num-target 2000 --num-target-val 300 --num-target-test 300]
        [--imbalance 4] [--source-order 3 1 4 ...] [--target-order ...] [--severities 1 2]
        [--target-opacity 0.9 1.0]
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument('--out', default='data/digitscenes_uda')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--num-source', type=int, default=2000)
    p.add_argument('--num-source-val', type=int, default=200)
    p.add_argument('--num-target', type=int, default=2000)
    p.add_argument('--num-target-val', type=int, default=300)
    p.add_argument('--num-target-test', type=int, default=300)
    p.add_argument('--img-size', type=int, default=128)
    p.add_argument('--imbalance', type=float, default=4.0,
                   help='commonest / rarest class frequency of each domain\'s train split')
    p.add_argument('--source-order', type=int, nargs=10,
                   help='digits from the commonest to the rarest in the source (default: '
                   'drawn from --seed)')
    p.add_argument('--target-order', type=int, nargs=10, help='likewise in the target')
    p.add_argument('--severities', type=int, nargs='+', default=[1, 2])
    p.add_argument('--target-opacity', type=float, nargs=2, default=[0.9, 1.0],
                   help="opacity range of the target's blended digits")
    p.add_argument('--force', action='store_true', help='regenerate even if meta.json matches')
    args = p.parse_args(argv)
    from mtkit.generate.common import generate_once
    from mtkit.generate.digitscenes_uda import DigitScenesUDAConfig, generate_uda
    cfg = DigitScenesUDAConfig(
        seed=args.seed, img_size=args.img_size, imbalance=args.imbalance,
        num_source=dict(train=args.num_source, val=args.num_source_val),
        num_target=dict(train=args.num_target, val=args.num_target_val,
                        test=args.num_target_test),
        source_order=tuple(args.source_order) if args.source_order else None,
        target_order=tuple(args.target_order) if args.target_order else None,
        severities=tuple(args.severities), target_opacity=tuple(args.target_opacity))
    meta = generate_once('make_digitscenes_uda', 'DigitScenes-UDA', args.out, cfg,
                         lambda: generate_uda(args.out, cfg), args.force)
    if meta is not None:
        print('source class order (commonest first): ' + ' '.join(meta['source_order']))
        print('target class order (commonest first): ' + ' '.join(meta['target_order']))


if __name__ == '__main__':
    main()
