# Domain-adaptive segmentation, DigitScenes-UDA (docs/domain_adaptation.md). Needs
# python tools/make_digitscenes_uda.py --out data/digitscenes_uda.
#
#   python tools/experiment.py experiments/uda.py --arms source           # source model
#   python tools/experiment.py experiments/uda.py --arms source_only oracle st
#   python tools/experiment.py experiments/uda.py --arms st_fraction pair2 dts_own dts
#
# The source model trains 8,000 iterations on the labeled synthetic source, validated on the
# target val split every 500 (its trajectory is the source-only headroom curve). Every
# adaptation arm starts from it and trains 2,000 iterations, validated every 250.
work_dir = 'work_dirs/uda'
seeds = [0, 1, 2]
options = {'train_dataloader.num_workers': 1, 'val_dataloader.num_workers': 1}

_ST = 'configs/uda/st_fcn-r18w16-d8_digitscenes-uda.py'
_DTS = 'configs/uda/dts_fcn-r18w16-d8_digitscenes-uda.py'
# tools/test.py evaluates the test split: point it at val, like the other arms' validations
_ON_VAL = {'test_dataloader.num_workers': 1,
           'test_dataloader.dataset.ann_file': 'splits/val.txt',
           'test_dataloader.dataset.data_prefix.img_path': 'leftImg8bit/val',
           'test_dataloader.dataset.data_prefix.seg_map_path': 'gtFine/val'}

arms = {
    'source': dict(stage='sup', config='configs/uda/source_fcn-r18w16-d8_digitscenes-uda.py',
                   seeds=[0], options={'train_cfg.max_iters': 8000}),
    # references: the source model on the target val split; the target oracle
    'source_only': dict(stage='test', config=_ST, start='source', seeds=[0], options=_ON_VAL,
                        pseudo=False),
    'oracle': dict(config='configs/uda/oracle_fcn-r18w16-d8_digitscenes-uda.py',
                   start='source'),
    # single-pair self-training (DAFormer-style: source ClassMix; class-balanced pseudo labels)
    'st': dict(config=_ST, start='source'),
    # with DAFormer's confidence weighting instead: the background dominates and the pair
    # collapses on this benchmark
    'st_fraction': dict(config=_ST, start='source',
                        options={'model.semi_train_cfg.weighting': 'fraction'}),
    # DTS' second pair alone: the single pair with a larger proportion of target pixels in its
    # mixed images (a quarter of each source image's classes pasted instead of half)
    'pair2': dict(config=_ST, start='source',
                  options={'model.semi_train_cfg.classmix_share': 0.25}),
    # DTS: both pairs, each student on its own teacher's pseudo labels, and with bidirectional
    # learning (each student on the other pair's teacher's); the first teacher is reported,
    # the second is a column of its own
    'dts_own': dict(config=_DTS, start='source',
                    options={'model.semi_train_cfg.pseudo_labels': 'own'}),
    'dts': dict(config=_DTS, start='source'),
    # cut to 1,000 iterations (compare with st's iteration-1,000 validation: the learning rate
    # is constant, so it is the same training up to there)
    'dts_1k': dict(config=_DTS, start='source', options={'train_cfg.max_iters': 1000}),
    'dts_own_1k': dict(config=_DTS, start='source', options={
        'train_cfg.max_iters': 1000, 'model.semi_train_cfg.pseudo_labels': 'own'}),
}
table = dict(metric='fg_mIoU', extra=['mIoU'], headroom_metric='fg_mIoU', digits=1,
             models=['teacher', 'student', 'teacher2', 'student2'], extra_models=['teacher'],
             baseline='source_only', full='oracle', peak=True,
             pseudo=['pseudo/kept_share', 'pseudo/accuracy', 'pseudo/target_share',
                     'pseudo/pair2_accuracy', 'pseudo/pair2_target_share'])
