# DigitScenes-Fog (python tools/make_digitscenes_fog.py), the target domain of source-free
# detection: train = unlabeled foggy images (fog severity 1-5, class-imbalanced), val / test =
# every scene at every severity, evaluated overall, per severity (fog{s}_bbox_mAP) and on the
# three rarest train classes (rare_mAP), by mtkit.GroupedCocoMetric.
# Weak view -> teachers, strong view -> student (label-preserving augmentation only).
_base_ = ['./semi_digitscenes_det.py']

data_root = 'data/digitscenes_fog/coco/'
# the three rarest digits of the train split (meta.json "rarest" of the default --seed 0)
rare_classes = ['three', 'nine', 'seven']

branch_field = ['unsup_teacher', 'unsup_student']
# The train split's boxes are loaded for the pseudo-label diagnostics (and the oracle) only:
# MeanTeacherDetector replaces them with pseudo labels before any loss. Without them use
# LoadEmptyAnnotations, ann_file='annotations/instances_train-unlabeled.json' and
# semi_train_cfg.diagnose_pseudo_labels=False.
target_pipeline = [
    dict(type='LoadImageFromFile', backend_args=_base_.backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='MultiBranch', branch_field=branch_field, unsup_teacher=_base_.weak_pipeline,
         unsup_student=_base_.strong_pipeline),
]
target_dataset = dict(
    type=_base_.dataset_type, data_root=data_root, metainfo=_base_.metainfo,
    ann_file='annotations/instances_train.json', data_prefix=dict(img='train/'),
    filter_cfg=dict(filter_empty_gt=False), pipeline=target_pipeline)

batch_size = 8
train_dataloader = dict(
    _delete_=True,
    batch_size=batch_size, num_workers=2, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=target_dataset)


val_dataloader = dict(dataset=dict(
    _delete_=True, type=_base_.dataset_type, data_root=data_root, metainfo=_base_.metainfo,
    ann_file='annotations/instances_val.json', data_prefix=dict(img='val/'), test_mode=True,
    pipeline=_base_.test_pipeline, backend_args=_base_.backend_args))
test_dataloader = dict(dataset=dict(
    _delete_=True, type=_base_.dataset_type, data_root=data_root, metainfo=_base_.metainfo,
    ann_file='annotations/instances_test.json', data_prefix=dict(img='test/'), test_mode=True,
    pipeline=_base_.test_pipeline, backend_args=_base_.backend_args))
val_evaluator = dict(_delete_=True, type='mtkit.GroupedCocoMetric',
                     ann_file=data_root + 'annotations/instances_val.json', metric='bbox',
                     group_key='fog_severity', rare_classes=rare_classes)
test_evaluator = dict(val_evaluator, ann_file=data_root + 'annotations/instances_test.json')
