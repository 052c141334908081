# EMA mean teacher: YOLOX-tiny, 10% of DigitScenes train labeled, the other 90% unlabeled.
# Same detector, schedule and labeled images as ../supervised/yolox-tiny_digitscenes-10pct.py.
_base_ = [
    '../_base_/default_runtime_det.py', '../_base_/models/yolox_tiny_digitscenes.py',
    '../_base_/datasets/semi_digitscenes_det.py', '../_base_/schedules/digitscenes_det.py'
]
percent = 10
fold = 1
labeled_dataset = _base_.labeled_dataset
unlabeled_dataset = _base_.unlabeled_dataset
labeled_dataset.ann_file = f'annotations/instances_train.{fold}@{percent}.json'
# held-out boxes of the unlabeled images: read only by the pseudo-label diagnostics
unlabeled_dataset.ann_file = f'annotations/instances_train.{fold}@{percent}-unlabeled.gt.json'
train_dataloader = dict(dataset=dict(datasets=[labeled_dataset, unlabeled_dataset]))

model = dict(
    type='mtkit.MeanTeacherDetector',
    detector=_base_.detector,
    semi_train_cfg=dict(
        sup_weight=1.0,
        unsup_weight=1.0,
        burn_in_iters=500,   # supervised only until the teacher is worth listening to
        ramp_iters=500,
        pseudo_filters=[
            dict(type='ScoreThreshold', thr=0.5),
            dict(type='MinBoxSize', min_size=2),
        ],
        diagnose_pseudo_labels=True),
    semi_test_cfg=dict(predict_on='teacher'))

# labeled images only while burn_in_iters lasts: no unlabeled views loaded for nothing
train_cfg = dict(type='mtkit.BurnInIterBasedTrainLoop')
val_cfg = dict(type='mtkit.TeacherStudentEvalLoop')
test_cfg = dict(type='mtkit.TeacherStudentTestLoop')
default_hooks = dict(checkpoint=dict(save_best='teacher/coco/bbox_mAP', rule='greater'))
custom_hooks = [
    dict(type='mtkit.EMATeacherHook', momentum=0.004, buffer_policy='copy'),
    dict(type='mtkit.PseudoLabelDiagnosticsHook', interval=50),
    dict(type='CheckInvalidLossHook', interval=50),
]
