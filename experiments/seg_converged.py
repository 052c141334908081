# DigitScenes-seg from a converged start (model_zoo/README.md): FCN-R18w16-D8, 1/8 labels.
#
#   python tools/experiment.py experiments/seg_converged.py --arms sup1_8 supfull sup1_16
#   python tools/experiment.py experiments/seg_converged.py --arms sup_ema mt mt_thr0.8 dt
#   python tools/experiment.py experiments/seg_converged.py --arms sup_ema_long mt_long dt_long \
#       dt_epoch_long
#   python tools/experiment.py experiments/seg_converged.py --arms sup_ema_1_16 mt_1_16
#   python tools/experiment.py experiments/seg_converged.py --arms dt_epoch_1_16 \
#       dt_consensus_1_16
#
# The headroom arms (stage='sup') train 8,000 iterations from scratch; the semi-supervised arms
# 1,000 iterations from the 1/8 checkpoint. Every arm is a config file (plus the options here).
work_dir = 'work_dirs/seg_converged'
seeds = [0, 1, 2]
options = {}

_SUP = 'configs/supervised/fcn-r18w16-d8_digitscenes-seg-{}-plateau.py'
_NAME = 'fcn-r18w16-d8_digitscenes-seg-1_8-converged.py'
_MT = 'configs/mean_teacher/'
_DT = 'configs/dual_teacher/dt_' + _NAME
_SUP_ITERS = {'train_cfg.max_iters': 8000}
_SEMI = {'train_cfg.max_iters': 1000}
_LONG = {'train_cfg.max_iters': 3000, 'train_cfg.val_interval': 500}
_SPLITS = 'data/digitscenes/cityscapes/splits/'
_THR08 = {'model.semi_train_cfg.pseudo_thr': 0.8}
_SPLIT_1_16 = {'train_dataloader.dataset.labeled.ann_file': 'splits/train.1@1_16.txt',
               'train_dataloader.dataset.unlabeled.ann_file':
               'splits/train.1@1_16-unlabeled.txt'}
# every training image, the labeled list of sup_ema_full
concat_files = {'train_all.txt': [_SPLITS + 'train.1@1_2.txt',
                                  _SPLITS + 'train.1@1_2-unlabeled.txt']}

arms = {
    # headroom: supervised towards the plateau, seed 0
    'sup1_16': dict(stage='sup', config=_SUP.format('1_16'), seeds=[0], options=_SUP_ITERS),
    'sup1_8': dict(stage='sup', config=_SUP.format('1_8'), seeds=[0], options=_SUP_ITERS),
    'supfull': dict(stage='sup', config=_SUP.format('full'), seeds=[0], options=_SUP_ITERS),
    # the semi-supervised phase from the 1/8 checkpoint
    'sup_ema': dict(config=_MT + 'sup-ema_' + _NAME, start='sup1_8', options=_SEMI,
                    pseudo=False),
    'mt': dict(config=_MT + 'mt_' + _NAME, start='sup1_8', options=_SEMI),
    # lever: threshold 0.8 instead of 0.95
    'mt_thr0.8': dict(config=_MT + 'mt-thr0.8_' + _NAME, start='sup1_8', options=_SEMI),
    # lever: per-class thresholds (ClassQuantileThreshold) and the class-balanced loss, and the
    # same thresholds with the plain 'mask' loss
    'mt_classaware': dict(config=_MT + 'mt-classaware_' + _NAME, start='sup1_8', options=_SEMI),
    'mt_classaware_mask': dict(config=_MT + 'mt-classaware_' + _NAME, start='sup1_8',
                               options=dict(_SEMI,
                                            **{'model.semi_train_cfg.weighting': 'mask'})),
    'consensus': dict(config=_MT + 'mt-consensus_' + _NAME, start='sup1_8', options=_SEMI),
    # Dual Teacher (its paper reports the student), at the reference code's turn length, and
    # with one epoch of the unlabeled set per turn (219 iterations at 1/8)
    'dt': dict(config=_DT, start='sup1_8', options=_SEMI, reported='student'),
    'dt_epoch': dict(config=_DT, start='sup1_8', reported='student',
                     options=dict(_SEMI, **{'custom_hooks.0.turns': None})),
    'oracle': dict(config=_MT + 'mt-oracle_' + _NAME, start='sup1_8', options=_SEMI),
    # the long phase (3,000 iterations, validated every 500): the lever that moved the EMA
    # teacher in detection, and the regime Dual Teacher's coupling argument is about (its turns
    # 15 iterations at turns=200, or one epoch). Every long arm labels at threshold 0.8, the
    # mean teacher's recipe at 1,000 iterations, so the teachers differ only in how they are
    # built; pseudo/agreement (the student predicting the teacher's label) is the coupling.
    'sup_ema_long': dict(config=_MT + 'sup-ema_' + _NAME, start='sup1_8', pseudo=False,
                         options=_LONG, baseline='sup_ema_long'),
    'mt_long': dict(config=_MT + 'mt-thr0.8_' + _NAME, start='sup1_8', options=_LONG,
                    baseline='sup_ema_long'),
    'dt_long': dict(config=_DT, start='sup1_8', reported='student', baseline='sup_ema_long',
                    options=dict(_LONG, **_THR08)),
    'dt_epoch_long': dict(config=_DT, start='sup1_8', reported='student',
                          baseline='sup_ema_long',
                          options=dict(_LONG, **_THR08, **{'custom_hooks.0.turns': None})),
    # 1/16 labels (125 images) from the 1/16 checkpoint, 1,000 iterations: supervised + EMA and
    # the mean teacher at threshold 0.8
    'sup_ema_1_16': dict(config=_MT + 'sup-ema_' + _NAME, start='sup1_16', pseudo=False,
                         options=dict(_SEMI, **_SPLIT_1_16), baseline='sup_ema_1_16'),
    'mt_1_16': dict(config=_MT + 'mt-thr0.8_' + _NAME, start='sup1_16',
                    options=dict(_SEMI, **_SPLIT_1_16), baseline='sup_ema_1_16'),
    # consensus on pixels where they are noisier: both teachers at 0.8, the second 8x slower
    # (the detection lever)
    'consensus_1_16': dict(config=_MT + 'mt-consensus_' + _NAME, start='sup1_16',
                           baseline='sup_ema_1_16', options=dict(_SEMI, **_SPLIT_1_16, **{
                               'model.semi_train_cfg.pseudo_filters.0.dense_thr': 0.8,
                               'custom_hooks.1.momentum': 0.00125})),
    # consensus of teachers that differ: Dual Teacher's pair (the active temporary teacher and
    # the resting one, frozen at the end of its turn), one-epoch turns, at 1/16 where the pixels
    # are noisier; dt_epoch_1_16 is the same Dual Teacher without the consensus
    'dt_epoch_1_16': dict(config=_DT, start='sup1_16', reported='student',
                          baseline='sup_ema_1_16',
                          options=dict(_SEMI, **_SPLIT_1_16, **_THR08,
                                       **{'custom_hooks.0.turns': None})),
    'dt_consensus_1_16': dict(config='configs/dual_teacher/dt-consensus_' + _NAME,
                              start='sup1_16', reported='student', baseline='sup_ema_1_16',
                              options=dict(_SEMI, **_SPLIT_1_16,
                                           **{'custom_hooks.0.turns': None})),
    # the full-label reference of the same protocol: the all-label checkpoint, then supervised
    # continued + EMA on all 2,000 labeled images
    'sup_ema_full': dict(config=_MT + 'sup-ema_' + _NAME, start='supfull', pseudo=False,
                         options=dict(_SEMI, **{
                             'train_dataloader.dataset.labeled.ann_file':
                             '{work_dir}/train_all.txt',
                             'train_dataloader.dataset.allow_overlap': True})),
}
table = dict(metric='fg_mIoU', extra=['mIoU'], headroom_metric='fg_mIoU', digits=1,
             models=['teacher', 'student', 'teacher2'], baseline='sup_ema', full='sup_ema_full',
             pseudo=['pseudo/kept_share', 'pseudo/accuracy', 'pseudo/agreement',
                     'pseudo/class_agreement'])
