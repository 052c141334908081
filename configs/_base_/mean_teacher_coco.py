# Shared part of the COCO mean-teacher configs: mmdet's semi-supervised COCO data (1 labeled +
# 4 unlabeled images per GPU), 180k iterations, EMA teacher. A model config adds the detector:
#   _base_ = ['mmdet::_base_/models/<detector>.py', '../_base_/mean_teacher_coco.py']
#   model = dict(_delete_=True, type='mtkit.MeanTeacherDetector', detector=_base_.model,
#                semi_train_cfg=_base_.semi_train_cfg, semi_test_cfg=_base_.semi_test_cfg)
# Splits come from tools/split_coco.py:
#   python tools/split_coco.py data/coco/annotations/instances_train2017.json \
#       --percent 1 5 10 --fold 1 --out-dir data/coco/semi_anns
_base_ = ['mmdet::_base_/datasets/semi_coco_detection.py', './default_runtime_det.py']

semi_train_cfg = dict(
    sup_weight=1.0,
    unsup_weight=2.0,
    burn_in_iters=2000,
    ramp_iters=0,
    pseudo_filters=[
        dict(type='ScoreThreshold', thr=0.5),
        dict(type='MinBoxSize', min_size=(1e-2, 1e-2)),
    ])
semi_test_cfg = dict(predict_on='teacher')

percent = 10
fold = 1
labeled_dataset = _base_.labeled_dataset
unlabeled_dataset = _base_.unlabeled_dataset
# mmdet's CocoDataset with the checks it lacks (unknown category ids, classes without boxes and
# empty splits are named instead of silently dropped; mtkit/datasets/checked_coco.py)
labeled_dataset.type = 'mtkit.CheckedCocoDataset'
unlabeled_dataset.type = 'mtkit.CheckedCocoDataset'
labeled_dataset.ann_file = f'semi_anns/instances_train2017.{fold}@{percent}.json'
unlabeled_dataset.ann_file = f'semi_anns/instances_train2017.{fold}@{percent}-unlabeled.json'
unlabeled_dataset.data_prefix = dict(img='train2017/')
# Data loading for one GPU of a 16-core machine (docs/gpu.md, "Data loading"): 12 workers (the
# training process keeps the other cores for Python and kernel launches; MMEngine runs OpenCV
# single-threaded in workers), batches in pinned memory and copied to the GPU without blocking
# (non_blocking=True below), workers kept alive across validations, 4 batches ahead per worker.
train_dataloader = dict(
    num_workers=12, pin_memory=True, persistent_workers=True, prefetch_factor=4,
    # no image trains as labeled and unlabeled (compared on the built datasets)
    dataset=dict(type='mtkit.DisjointConcatDataset',
                 datasets=[labeled_dataset, unlabeled_dataset]))
val_dataloader = dict(num_workers=4, pin_memory=True, persistent_workers=True,
                      dataset=dict(type='mtkit.CheckedCocoDataset'))
test_dataloader = dict(num_workers=4, pin_memory=True, persistent_workers=True,
                       dataset=dict(type='mtkit.CheckedCocoDataset'))
# MMEngine's Runner gives the model this preprocessor when the model config has none (the COCO
# configs' MeanTeacherDetector has none): the R50-FPN detectors' own normalisation and padding,
# with the host-to-GPU copy of the pinned batch not blocking.
data_preprocessor = dict(
    type='mmdet.MultiBranchDataPreprocessor',
    data_preprocessor=dict(type='mmdet.DetDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_size_divisor=32,
                           non_blocking=True))

# no unlabeled views are loaded during semi_train_cfg.burn_in_iters (docs/gpu.md)
train_cfg = dict(type='mtkit.BurnInIterBasedTrainLoop', max_iters=180000, val_interval=5000)
val_cfg = dict(type='mtkit.TeacherStudentEvalLoop')
test_cfg = dict(type='mtkit.TeacherStudentTestLoop')
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=180000, by_epoch=False,
         milestones=[120000, 160000], gamma=0.1),
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0001),
    clip_grad=dict(max_norm=35, norm_type=2))
default_hooks = dict(
    checkpoint=dict(by_epoch=False, interval=10000, max_keep_ckpts=2,
                    save_best='teacher/coco/bbox_mAP', rule='greater'))
custom_hooks = [
    dict(type='mtkit.EMATeacherHook', momentum=0.0004),
    dict(type='CheckInvalidLossHook', interval=50),
]
