# EMA mean teacher from a converged supervised start (10% labels), the protocol of
# model_zoo/README.md "DigitScenes-det from a converged start":
#   1. python tools/train.py configs/supervised/yolox-tiny_digitscenes-10pct-plateau.py \
#          --work-dir work_dirs/sup_plateau_10pct
#   2. this config: teacher and student both start from that checkpoint (a plain detector
#      checkpoint fills both), the teacher labels from the first iteration.
# Unsupervised loss policies for a dense head (docs/detection.md): the whole unlabeled batch
# through the student, the loss scaled by the pseudo-box density, and teacher boxes scoring
# 0.1-0.5 as ignore regions (no gradient at their locations).
_base_ = ['./mt_yolox-tiny_digitscenes-10pct.py']
load_from = 'work_dirs/sup_plateau_10pct/iter_5000.pth'
train_cfg = dict(max_iters=1000, val_interval=250)
default_hooks = dict(checkpoint=dict(interval=250, max_keep_ckpts=1))
model = dict(
    semi_train_cfg=dict(
        burn_in_iters=0,
        ramp_iters=200,
        unsup_images='all',
        unsup_norm='pseudo_density',
        uncertain_thr=0.1,
        uncertain_weight=0.0))
custom_hooks = [
    dict(type='mtkit.EMATeacherHook', momentum=0.004, buffer_policy='copy'),
    dict(type='mtkit.PseudoLabelDiagnosticsHook', interval=50),
    dict(type='CheckInvalidLossHook', interval=50),
]
