# Source-free domain adaptation, mean teacher: YOLOX-tiny trained on DigitScenes (clear, the
# source) adapts to DigitScenes-Fog from its unlabeled foggy images alone
# (docs/domain_adaptation.md).
#   1. python tools/train.py configs/supervised/yolox-tiny_digitscenes-100pct-plateau.py \
#          --work-dir work_dirs/sfod/source_s0           (the source model; or your own)
#   2. python tools/train.py configs/sfod/mt_yolox-tiny_digitscenes-fog.py \
#          --cfg-options load_from=work_dirs/sfod/source_s0/iter_5000.pth
# The teacher and the student both start from the source checkpoint (a plain detector
# checkpoint fills both; training refuses to start without one). No labeled branch: the
# student learns from the teacher's pseudo labels on the strong view only.
# No objectness loss on pseudo labels (classification and boxes only, as Unbiased Teacher
# trains its RPN-free heads): with it, this mean teacher collapses on DigitScenes-Fog
# (pseudo-label recall -> 0 by iteration 650, model_zoo/README.md "Source-free detection");
# every other config in configs/sfod/ inherits the setting. The collapsing variant:
#   --cfg-options "model.semi_train_cfg.unsup_loss_terms=[loss_cls,loss_bbox,loss_obj]"
_base_ = [
    '../_base_/default_runtime_det.py', '../_base_/models/yolox_tiny_digitscenes.py',
    '../_base_/datasets/digitscenes_fog_det.py', '../_base_/schedules/digitscenes_det.py'
]
load_from = 'work_dirs/sfod/source_s0/iter_5000.pth'

model = dict(
    type='mtkit.MeanTeacherDetector',
    detector=_base_.detector,
    semi_train_cfg=dict(
        labeled_branch='none',    # source-free
        unsup_weight=1.0,
        burn_in_iters=0,
        ramp_iters=0,
        pseudo_filters=[
            dict(type='ScoreThreshold', thr=0.5),
            dict(type='MinBoxSize', min_size=2),
        ],
        unsup_images='all',
        unsup_norm='head',
        unsup_loss_terms=['loss_cls', 'loss_bbox'],
        # teacher boxes scoring 0.1-0.5 are ignore regions (no gradient there)
        uncertain_thr=0.1,
        uncertain_weight=0.0,
        diagnose_pseudo_labels=True),
    semi_test_cfg=dict(predict_on='teacher'))

# 2,000 target images, 8 per batch: one epoch = 250 iterations
train_cfg = dict(type='IterBasedTrainLoop', max_iters=1000, val_interval=250)
val_cfg = dict(type='mtkit.TeacherStudentEvalLoop')
test_cfg = dict(type='mtkit.TeacherStudentTestLoop')
optim_wrapper = dict(optimizer=dict(lr=5e-4))
param_scheduler = []
default_hooks = dict(checkpoint=dict(interval=250, max_keep_ckpts=1,
                                     save_best='teacher/coco/bbox_mAP', rule='greater'))
custom_hooks = [
    dict(type='mtkit.EMATeacherHook', momentum=0.004, buffer_policy='copy'),
    dict(type='mtkit.PseudoLabelDiagnosticsHook', interval=50),
    dict(type='CheckInvalidLossHook', interval=50),
]
