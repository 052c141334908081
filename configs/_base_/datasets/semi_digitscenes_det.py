# DigitScenes semi-supervised detection: labeled split + the rest of train as unlabeled.
# Weak view -> teacher, strong view -> student; boxes move between views through the
# homography matrices the geometric transforms record.
_base_ = ['./digitscenes_det.py']

branch_field = ['sup', 'unsup_teacher', 'unsup_student']
sup_pipeline = [
    dict(type='LoadImageFromFile', backend_args=_base_.backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomResize', scale=_base_.img_scale, ratio_range=(0.8, 1.25),
         keep_ratio=True),
    dict(type='RandAugment', aug_space=_base_.color_space, aug_num=1),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1, 1)),
    dict(type='MultiBranch', branch_field=branch_field, sup=dict(type='PackDetInputs')),
]
meta_keys = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip',
             'flip_direction', 'homography_matrix')
weak_pipeline = [
    dict(type='RandomResize', scale=_base_.img_scale, ratio_range=(0.8, 1.25),
         keep_ratio=True),
    dict(type='PackDetInputs', meta_keys=meta_keys),
]
strong_pipeline = [
    dict(type='RandomResize', scale=_base_.img_scale, ratio_range=(0.8, 1.25),
         keep_ratio=True),
    dict(type='RandomOrder', transforms=[
        dict(type='RandAugment', aug_space=_base_.color_space, aug_num=1),
        dict(type='RandAugment', aug_space=_base_.geometric, aug_num=1),
    ]),
    dict(type='RandomErasing', n_patches=(1, 3), ratio=(0, 0.15)),
    # keep_empty=False: an image whose held-out boxes all leave the view stays in the batch
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1e-2, 1e-2), keep_empty=False),
    dict(type='PackDetInputs', meta_keys=meta_keys),
]
# The unlabeled images' held-out ground truth is loaded for pseudo-label diagnostics only
# (precision/recall, see PseudoLabelDiagnosticsHook): MeanTeacherDetector replaces the student
# branch's gt_instances with pseudo labels before any loss, and the teacher's are overwritten by
# its predictions. Use LoadEmptyAnnotations and the *-unlabeled.json file when there is no
# ground truth (and set diagnose_pseudo_labels=False).
unsup_pipeline = [
    dict(type='LoadImageFromFile', backend_args=_base_.backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='MultiBranch', branch_field=branch_field, unsup_teacher=weak_pipeline,
         unsup_student=strong_pipeline),
]

labeled_dataset = dict(
    type=_base_.dataset_type, data_root=_base_.data_root, metainfo=_base_.metainfo,
    ann_file=_base_.labeled_ann, data_prefix=dict(img='train/'),
    filter_cfg=dict(filter_empty_gt=True, min_size=4), pipeline=sup_pipeline)
unlabeled_dataset = dict(
    type=_base_.dataset_type, data_root=_base_.data_root, metainfo=_base_.metainfo,
    ann_file=_base_.unlabeled_ann, data_prefix=dict(img='train/'),
    filter_cfg=dict(filter_empty_gt=False), pipeline=unsup_pipeline)

batch_size = 8
train_dataloader = dict(
    _delete_=True,
    batch_size=batch_size, num_workers=2, persistent_workers=True,
    sampler=dict(type='GroupMultiSourceSampler', batch_size=batch_size, source_ratio=[1, 1]),
    # mmdet's ConcatDataset that refuses an image in both splits, comparing the images the built
    # datasets read (so a --cfg-options override of either ann_file is checked too)
    dataset=dict(type='mtkit.DisjointConcatDataset',
                 datasets=[labeled_dataset, unlabeled_dataset]))
