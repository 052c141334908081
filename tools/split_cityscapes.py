"""Labeled / unlabeled splits of a Cityscapes-layout folder, by fraction and seed.

    python tools/split_cityscapes.py ROOT --fraction 1/16 1/8 1/4 1/2 --seed 1 2 3 \
        [--split train] [--out-dir ROOT/splits]

Writes ``{split}.{seed}@{num}_{den}.txt`` (labeled) and ``...-unlabeled.txt`` name lists
(``{city}/{name}`` per line), which mmseg's CityscapesDataset reads as ``ann_file``.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def main(argv=None):
    p = argparse.ArgumentParser(description='Split a Cityscapes-layout folder')
    p.add_argument('root')
    p.add_argument('--fraction', nargs='+', required=True)
    p.add_argument('--seed', type=int, nargs='+', default=[1])
    p.add_argument('--split', default='train')
    p.add_argument('--out-dir')
    args = p.parse_args(argv)
    from mtkit.generate.cityscapes_split import SplitError, write_cityscapes_splits
    from mtkit.generate.common import print_paths_or_exit
    print_paths_or_exit('split_cityscapes', lambda: write_cityscapes_splits(
        args.root, args.fraction, args.seed, args.split, args.out_dir), SplitError)


if __name__ == '__main__':
    main()
