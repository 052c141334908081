# Domain-adaptive segmentation, DigitScenes-UDA (docs/domain_adaptation.md). Needs
# python tools/make_digitscenes_uda.py --out data/digitscenes_uda.
#
#   python tools/experiment.py experiments/uda.py --arms source           # source model
#   python tools/experiment.py experiments/uda.py --arms source_only oracle st pair2 st_share75
#   python tools/experiment.py experiments/uda.py --arms dts dts_own
#
# The source model trains 8,000 iterations on the labeled synthetic source, validated on the
# target val split every 500 (its trajectory is the source-only headroom curve). Every
# adaptation arm starts from it and trains 1,000 iterations, validated every 250 (a DTS run
# costs about 25 minutes on one core, the single pair about 12); the *_2k arms train the
# configs' full 2,000.
work_dir = 'work_dirs/uda'
seeds = [0, 1, 2]
options = {'train_dataloader.num_workers': 1, 'val_dataloader.num_workers': 1}

_ST = 'configs/uda/st_fcn-r18w16-d8_digitscenes-uda.py'
_DTS = 'configs/uda/dts_fcn-r18w16-d8_digitscenes-uda.py'
_1K = {'train_cfg.max_iters': 1000}
# tools/test.py evaluates the test split: point it at val, like the other arms' validations
_ON_VAL = {'test_dataloader.num_workers': 1,
           'test_dataloader.dataset.ann_file': 'splits/val.txt',
           'test_dataloader.dataset.data_prefix.img_path': 'leftImg8bit/val',
           'test_dataloader.dataset.data_prefix.seg_map_path': 'gtFine/val'}
# the 'learning ability' of DTS' trade-off: a final checkpoint on the labeled source's val split
_ON_SOURCE_VAL = dict(_ON_VAL, **{
    'test_dataloader.dataset.data_root': 'data/digitscenes_uda/source/'})


def _evaluate(start, options, **extra):
    """A test arm: every seed's final checkpoint of ``start`` evaluated with ``options``."""
    return dict(stage='test', config=_DTS if start.startswith('dts') else _ST, start=start,
                start_seed='same', options=options, pseudo=False, **extra)


def _on_source(start):
    return _evaluate(start, _ON_SOURCE_VAL, baseline='source_on_source', full='source_on_source')


# every seed's final checkpoint on the target val split again, with each class's IoU
def _classes(start):
    return _evaluate(start, dict(_ON_VAL, **{'test_evaluator.per_class': True}))


arms = {
    'source': dict(stage='sup', config='configs/uda/source_fcn-r18w16-d8_digitscenes-uda.py',
                   seeds=[0], options={'train_cfg.max_iters': 8000}),
    # references: the source model on the target val split; the target oracle
    'source_only': dict(stage='test', config=_ST, start='source', seeds=[0], options=_ON_VAL,
                        pseudo=False),
    'oracle': dict(config='configs/uda/oracle_fcn-r18w16-d8_digitscenes-uda.py',
                   start='source', options=_1K),
    # single-pair self-training (DAFormer-style: source ClassMix; class-balanced pseudo labels)
    'st': dict(config=_ST, start='source', options=_1K),
    # with DAFormer's confidence weighting instead: the background dominates and the pair
    # collapses on this benchmark
    'st_fraction': dict(config=_ST, start='source',
                        options=dict(_1K, **{'model.semi_train_cfg.weighting': 'fraction'})),
    # the target-proportion trade-off: the single pair with more or fewer target pixels in its
    # mixed images. pair2 is DTS' second pair alone (a quarter of each source image's classes
    # pasted instead of half: more target pixels); st_share75 pastes three quarters (fewer)
    'pair2': dict(config=_ST, start='source',
                  options=dict(_1K, **{'model.semi_train_cfg.classmix_share': 0.25})),
    'st_share75': dict(config=_ST, start='source',
                       options=dict(_1K, **{'model.semi_train_cfg.classmix_share': 0.75})),
    # DTS: both pairs, each student on its own teacher's pseudo labels, and with bidirectional
    # learning (each student on the other pair's teacher's); the first teacher is reported,
    # the second is a column of its own
    'dts_own': dict(config=_DTS, start='source',
                    options=dict(_1K, **{'model.semi_train_cfg.pseudo_labels': 'own'})),
    'dts': dict(config=_DTS, start='source', options=_1K),
    # the configs' full length, 2,000 iterations
    'oracle_2k': dict(config='configs/uda/oracle_fcn-r18w16-d8_digitscenes-uda.py',
                      start='source'),
    'st_2k': dict(config=_ST, start='source'),
    'dts_2k': dict(config=_DTS, start='source'),
    # every seed's final checkpoint on the source's val split (compared with the source model)
    'source_on_source': dict(_on_source('source'), seeds=[0]),
    'st_on_source': _on_source('st'),
    'pair2_on_source': _on_source('pair2'),
    'st_share75_on_source': _on_source('st_share75'),
    'dts_on_source': _on_source('dts'),
    # per-class IoU on the target val split (the last validation's checkpoint)
    'source_only_classes': dict(_classes('source'), seeds=[0]),
    'oracle_classes': _classes('oracle'),
    'st_classes': _classes('st'),
    'pair2_classes': _classes('pair2'),
    'dts_own_classes': _classes('dts_own'),
    'dts_classes': _classes('dts'),
}
_DIGITS = ('zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine')
table = dict(metric='fg_mIoU', extra=['mIoU'] + [f'IoU.{d}' for d in _DIGITS],
             headroom_metric='fg_mIoU', digits=1,
             models=['teacher', 'student', 'teacher2', 'student2'], extra_models=['teacher'],
             baseline='source_only', full='oracle', peak=True,
             pseudo=['pseudo/kept_share', 'pseudo/accuracy', 'pseudo/target_share',
                     'pseudo/pair2_accuracy', 'pseudo/pair2_target_share'])
