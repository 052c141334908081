"""Check the datasets of a config before training: every image decoded, every annotation checked.

    python tools/check_data.py CONFIG [--splits train val test] [--workers N]
                                      [--cfg-options k=v ...]

Builds the train / val / test datasets as the Runner would (mtkit's load-time checks
included), decodes every image and label map they name, compares image sizes with the
annotations, and checks boxes (finite, non-empty, inside the image, label in range) and
label-map values (a class or ignore_index). Prints what it found and exits with 1 when
anything is wrong. ``tools/train.py CONFIG --check-data`` runs the same check first.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv=None):
    from mmengine.config import DictAction
    p = argparse.ArgumentParser(description='Check the datasets of a config')
    p.add_argument('config')
    p.add_argument('--splits', nargs='+', default=['train', 'val', 'test'],
                   choices=['train', 'val', 'test'])
    from mtkit.datasets.data_check import DEFAULT_WORKERS
    p.add_argument('--workers', type=int, default=DEFAULT_WORKERS,
                   help='processes decoding images (default: min(8, cores))')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    return p.parse_args(argv)


def run_check(cfg, splits=('train', 'val', 'test'), workers=None) -> bool:
    """Check ``cfg``'s data (``workers`` processes, default min(8, cores)), print the report;
    True when nothing is wrong."""
    from mtkit.datasets.data_check import DEFAULT_WORKERS, check_config_data
    workers = DEFAULT_WORKERS if workers is None else workers
    print(f'checking the data of {cfg.filename or "the config"} ({", ".join(splits)})')
    report = check_config_data(cfg, splits=splits, workers=workers)
    print(report.summary())
    return report.ok


def main(argv=None) -> int:
    args = parse_args(argv)
    import mtkit  # noqa: F401
    from mmengine.config import Config
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'config file not found: {args.config}')
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    return 0 if run_check(cfg, args.splits, args.workers) else 1


if __name__ == '__main__':
    sys.exit(main())
