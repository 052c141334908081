# MovingDigits from a converged start (model_zoo/README.md): the per-frame FCN-R18w16 of
# configs/stable_teacher/, 10% labeled clips (data: python tools/make_moving_digits.py
# --out data/moving_digits).
#
#   python tools/experiment.py experiments/video_converged.py --arms plateau   # 8,000 iterations
#   python tools/experiment.py experiments/video_converged.py                   # 5 variants x 3
#
# `plateau` keeps every 1,000-iteration checkpoint (the plateau is read off its curve); the
# variants train 1,000 iterations from its last one, validating every 250: `sup` is supervised
# continued (its teacher = supervised + EMA), `mt` the plain mean teacher, `smt-dop` / `smt-eor`
# one component of Stable Mean Teacher each, `smt` both.
work_dir = 'work_dirs/video_converged'
seeds = [0, 1, 2]
options = {}

_ST = 'configs/stable_teacher/{}_fcn-r18_moving-digits-10pct-converged.py'
_SEMI = {'train_cfg.max_iters': 1000, 'train_cfg.val_interval': 250}
_WEIGHT = 'model.semi_train_cfg.unsup_weight'

arms = {
    'plateau': dict(stage='sup', config='configs/stable_teacher/sup_fcn-r18_moving-digits-'
                    '10pct.py', seeds=[0], options={'train_cfg.max_iters': 8000,
                                                    'default_hooks.checkpoint.max_keep_ckpts': -1}),
    'sup': dict(config=_ST.format('sup'), start='plateau', options=_SEMI, pseudo=False),
    'mt': dict(config=_ST.format('mt'), start='plateau', options=_SEMI),
    'smt-dop': dict(config=_ST.format('smt-dop'), start='plateau', options=_SEMI),
    'smt-eor': dict(config=_ST.format('smt-eor'), start='plateau', options=_SEMI),
    'smt': dict(config=_ST.format('smt'), start='plateau', options=_SEMI),
    # the consistency weight at a scale where the loss matters (the published 0.1 makes it
    # about 1e-4 against a supervised loss of 0.1; pseudo/unsup_share is its share): the
    # mean teacher at 10, 100 and 1,000, then each part of Stable Mean Teacher at 10 and 100
    **{f'mt_w{w}': dict(config=_ST.format('mt'), start='plateau',
                        options=dict(_SEMI, **{_WEIGHT: float(w)})) for w in (10, 100, 1000)},
    **{f'{v}_w{w}': dict(config=_ST.format(v), start='plateau',
                         options=dict(_SEMI, **{_WEIGHT: float(w)}))
       for v in ('smt-dop', 'smt-eor', 'smt') for w in (10, 100)},
}
table = dict(metric='clip/fg_mIoU', extra=['clip/mIoU', 'clip/fg_flicker', 'clip/flicker'],
             headroom_metric='teacher/clip/mIoU', digits=2, models=['teacher', 'student'],
             baseline='sup', full=None, pseudo=['pseudo/accuracy', 'pseudo/unsup_share'])
