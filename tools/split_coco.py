"""Labeled / unlabeled splits of a COCO instances json, by percent and fold.

    python tools/split_coco.py ANN_FILE --percent 1 5 10 --fold 1 2 3 [--out-dir DIR]

Writes ``{stem}.{fold}@{percent}.json``, ``{stem}.{fold}@{percent}-unlabeled.json`` and
``{stem}.{fold}@{percent}-unlabeled.gt.json`` (mmdet's naming, which the configs read).
Exactly round(N * percent / 100) images are labeled, sampled without replacement with a
generator seeded by the fold.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def main(argv=None):
    p = argparse.ArgumentParser(description='Split a COCO json into labeled/unlabeled parts')
    p.add_argument('ann_file')
    p.add_argument('--percent', type=float, nargs='+', required=True)
    p.add_argument('--fold', type=int, nargs='+', default=[1])
    p.add_argument('--out-dir')
    args = p.parse_args(argv)
    from mtkit.generate.coco_split import SplitError, write_splits
    from mtkit.generate.common import print_paths_or_exit
    print_paths_or_exit('split_coco', lambda: write_splits(args.ann_file, args.percent,
                                                           args.fold, args.out_dir), SplitError)


if __name__ == '__main__':
    main()
