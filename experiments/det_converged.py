# DigitScenes-det from a converged start (model_zoo/README.md): YOLOX-tiny, 10% labels.
#
#   python tools/experiment.py experiments/det_converged.py --arms sup10 sup100   # headroom
#   python tools/experiment.py experiments/det_converged.py --arms sup_ema mt      # 3 seeds
#   python tools/experiment.py experiments/det_converged.py --arms dt_1pct dt_consensus_1pct
#
# Every arm is a config file plus the options listed here; `start` is the arm whose last
# checkpoint it loads (`load_from`). The headroom arms (stage='sup') train 5,000 iterations from
# scratch; the semi-supervised arms 1,000 iterations from the 10% checkpoint (the `_long` arms
# 3,000, the `_1pct` arms from the 1% checkpoint). mt_extra needs the data made with
# `python tools/make_digitscenes.py --out data/digitscenes --extra-unlabeled 4000`.
work_dir = 'work_dirs/det_converged'
seeds = [0, 1, 2]
options = {'train_dataloader.num_workers': 1, 'val_dataloader.num_workers': 1}

_SUP = 'configs/supervised/yolox-tiny_digitscenes-{}pct-plateau.py'
_MT = 'configs/mean_teacher/mt_yolox-tiny_digitscenes-10pct-converged.py'
_MT_EXTRA = 'configs/mean_teacher/mt_yolox-tiny_digitscenes-10pct-converged-extra.py'
_MT_1PCT = 'configs/mean_teacher/mt_yolox-tiny_digitscenes-1pct-converged.py'
_SUP_EMA = 'configs/mean_teacher/sup-ema_yolox-tiny_digitscenes-10pct-converged.py'
_SUP_EMA_1PCT = 'configs/mean_teacher/sup-ema_yolox-tiny_digitscenes-1pct-converged.py'
_ORACLE = 'configs/mean_teacher/mt-oracle_yolox-tiny_digitscenes-10pct-converged.py'
_GMM = 'configs/consistent_teacher/ct_yolox-tiny_digitscenes-10pct-converged.py'
_CONSENSUS = 'configs/mean_teacher/mt-consensus_yolox-tiny_digitscenes-10pct-converged.py'
_DT = 'configs/dual_teacher/dt{}_yolox-tiny_digitscenes-10pct-converged.py'
_SUP_ITERS = {'train_cfg.max_iters': 5000}
_SEMI = {'train_cfg.max_iters': 1000}
_LONG = {'train_cfg.max_iters': 3000}
# the 1% split (20 labeled images, the other 1,980 unlabeled) in a 10% config
_ONE_PCT = {'train_dataloader.dataset.datasets.0.ann_file': 'annotations/instances_train.1@1.json',
            'train_dataloader.dataset.datasets.1.ann_file':
            'annotations/instances_train.1@1-unlabeled.gt.json'}
_GMM_MIDDLE = {'model.semi_train_cfg.pseudo_filters.1.policy': 'middle'}
_BOTH = {'model.semi_train_cfg.pseudo_filters.1.second_thr': 0.5}
_SLOW_SECOND = {'custom_hooks.1.momentum': 0.0005}  # the second teacher 8x slower
_ALL_LABELED = {'train_dataloader.dataset.datasets.0.ann_file':
                'annotations/instances_train.json'}

arms = {
    # headroom: supervised towards the plateau, seed 0
    'sup1': dict(stage='sup', config=_SUP.format(1), seeds=[0], options=_SUP_ITERS),
    'sup10': dict(stage='sup', config=_SUP.format(10), seeds=[0], options=_SUP_ITERS),
    'sup100': dict(stage='sup', config=_SUP.format(100), seeds=[0], options=_SUP_ITERS),
    # the semi-supervised phase from the 10% checkpoint
    'sup_ema': dict(config=_SUP_EMA, start='sup10', options=_SEMI, pseudo=False),
    'mt': dict(config=_MT, start='sup10', options=_SEMI),
    # one backbone + neck pass over both branches on this BN detector
    'mt_joint': dict(config=_MT, start='sup10', options=dict(
        _SEMI, **{'model.semi_train_cfg.joint_student_forward': True})),
    # the previous release's unsupervised loss: only images with a pseudo box, the head's own
    # normalisation, no ignore regions
    'mt_legacy': dict(config=_MT, start='sup10', options=dict(_SEMI, **{
        'model.semi_train_cfg.unsup_images': 'with_pseudo',
        'model.semi_train_cfg.unsup_norm': 'head',
        'model.semi_train_cfg.uncertain_thr': None})),
    # levers: a stronger unsupervised loss; stricter pseudo labels; soft regions; Unbiased
    # Teacher's classification-only unsupervised loss; more unlabeled images
    'mt_w2': dict(config=_MT, start='sup10', options=dict(
        _SEMI, **{'model.semi_train_cfg.unsup_weight': 2.0})),
    'mt_thr0.7': dict(config=_MT, start='sup10', options=dict(
        _SEMI, **{'model.semi_train_cfg.pseudo_filters.0.thr': 0.7})),
    'mt_soft': dict(config=_MT, start='sup10', options=dict(
        _SEMI, **{'model.semi_train_cfg.uncertain_weight': 'soft'})),
    'mt_cls': dict(config=_MT, start='sup10', options=dict(
        _SEMI, **{'model.semi_train_cfg.unsup_loss_terms': ['loss_cls', 'loss_obj']})),
    'mt_extra': dict(config=_MT_EXTRA, start='sup10', options=_SEMI),
    'gmm': dict(config=_GMM, start='sup10', options=_SEMI),
    'consensus': dict(config=_CONSENSUS, start='sup10', options=_SEMI),
    # held-out ground truth as pseudo labels, each box kept with probability `recall`
    'oracle1.0': dict(config=_ORACLE, start='sup10', options=_SEMI),
    'oracle0.6': dict(config=_ORACLE, start='sup10', options=dict(
        _SEMI, **{'model.semi_train_cfg.oracle.recall': 0.6})),
    'oracle0.3': dict(config=_ORACLE, start='sup10', options=dict(
        _SEMI, **{'model.semi_train_cfg.oracle.recall': 0.3})),
    # the full-label reference of the same protocol: the 100% checkpoint, then supervised
    # continued + EMA on all 2,000 labeled images
    'sup_ema_full': dict(config=_SUP_EMA, start='sup100', options=dict(_SEMI, **_ALL_LABELED),
                         pseudo=False),
    # a 3x longer semi-supervised phase, with its own references
    'sup_ema_long': dict(config=_SUP_EMA, start='sup10', options=_LONG, pseudo=False,
                         baseline='sup_ema_long', full='sup_ema_full_long'),
    'mt_long': dict(config=_MT, start='sup10', options=_LONG, baseline='sup_ema_long',
                    full='sup_ema_full_long'),
    'sup_ema_full_long': dict(config=_SUP_EMA, start='sup100', pseudo=False,
                              options=dict(_LONG, **_ALL_LABELED), baseline='sup_ema_long',
                              full='sup_ema_full_long'),
    # the same pair from the 1% checkpoint (20 labeled images)
    'sup_ema_1pct': dict(config=_SUP_EMA_1PCT, start='sup1', options=_SEMI, pseudo=False,
                         baseline='sup_ema_1pct'),
    'mt_1pct': dict(config=_MT_1PCT, start='sup1', options=_SEMI, baseline='sup_ema_1pct'),
    # where the pseudo labels are noisy (1% labels): GMM thresholds, with the positive
    # component's mode ('high', the paper's default) or its lowest score ('middle') as the
    # threshold; two-teacher consensus with the model zoo's momenta and with teachers that
    # differ more (the second one 8x slower); the oracle of the same start
    'gmm_1pct': dict(config=_GMM, start='sup1', options=dict(_SEMI, **_ONE_PCT),
                     baseline='sup_ema_1pct'),
    'gmm_middle_1pct': dict(config=_GMM, start='sup1', baseline='sup_ema_1pct', options=dict(
        _SEMI, **_ONE_PCT, **_GMM_MIDDLE)),
    'consensus_1pct': dict(config=_CONSENSUS, start='sup1', options=dict(_SEMI, **_ONE_PCT),
                           baseline='sup_ema_1pct'),
    'consensus_slow_1pct': dict(config=_CONSENSUS, start='sup1', baseline='sup_ema_1pct',
                                options=dict(_SEMI, **_ONE_PCT, **_SLOW_SECOND)),
    # the same pairs where a box counts only when both teachers keep it on their own (the
    # second teacher's partner box also scores >= 0.5)
    'consensus_both_1pct': dict(config=_CONSENSUS, start='sup1', baseline='sup_ema_1pct',
                                options=dict(_SEMI, **_ONE_PCT, **_BOTH)),
    'consensus_slow_both_1pct': dict(config=_CONSENSUS, start='sup1', baseline='sup_ema_1pct',
                                     options=dict(_SEMI, **_ONE_PCT, **_BOTH, **_SLOW_SECOND)),
    # consensus of teachers that differ: Dual Teacher's pair (the active temporary teacher and
    # the resting one, frozen at the end of its one-epoch turn), both keeping the box at 0.5;
    # dt_1pct is the same Dual Teacher without the consensus (the student is reported)
    'dt_1pct': dict(config=_DT.format(''), start='sup1', baseline='sup_ema_1pct',
                    reported='student', options=dict(_SEMI, **_ONE_PCT)),
    'dt_consensus_1pct': dict(config=_DT.format('-consensus'), start='sup1',
                              baseline='sup_ema_1pct', reported='student',
                              options=dict(_SEMI, **_ONE_PCT)),
    # the control of dt_1pct's momentum: its temporary teachers move at 1 / (i + 1) down to
    # 0.01, the mean teacher at 0.004; the mean teacher at 0.01
    'mt_fast_1pct': dict(config=_MT_1PCT, start='sup1', baseline='sup_ema_1pct',
                         options=dict(_SEMI, **{'custom_hooks.0.momentum': 0.01})),
    'oracle_1pct': dict(config=_ORACLE, start='sup1', options=dict(_SEMI, **_ONE_PCT),
                        baseline='sup_ema_1pct'),
    # the same GMM lever at 10% labels
    'gmm_middle': dict(config=_GMM, start='sup10', options=dict(_SEMI, **_GMM_MIDDLE)),
}
table = dict(metric='coco/bbox_mAP', headroom_metric='coco/bbox_mAP', digits=3,
             models=['teacher', 'student', 'teacher2'], baseline='sup_ema', full='sup_ema_full',
             pseudo=['pseudo/boxes_per_img', 'pseudo/precision', 'pseudo/recall'])
