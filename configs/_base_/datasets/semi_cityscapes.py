# Semi-supervised Cityscapes: the labeled list of a split made by tools/split_cityscapes.py
# (data/cityscapes/splits/train.1@1_16.txt ...) and the rest of train as unlabeled images,
# paired item by item by mtkit.SemiSegDataset. 512 x 1024 crops, evaluated on val with
# IoUMetric; for the official evaluation switch to
#   val_evaluator = dict(type='CityscapesMetric', output_dir='work_dirs/format_results')
# and save_best='student/averageScoreCategories' (it reports category-level scores, not mIoU)
# (needs cityscapesscripts and the *_gtFine_labelIds.png files).
dataset_type = 'CityscapesDataset'
data_root = 'data/cityscapes/'
crop_size = (512, 1024)
labeled_list = 'splits/train.1@1_16.txt'
unlabeled_list = 'splits/train.1@1_16-unlabeled.txt'
geometric = [
    dict(type='RandomResize', scale=(2048, 1024), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
]
strong_pipeline = [
    dict(type='Albu', transforms=[
        dict(type='ColorJitter', brightness=0.5, contrast=0.5, saturation=0.5, hue=0.25, p=0.8),
        dict(type='ToGray', p=0.2),
        dict(type='GaussianBlur', sigma_limit=(0.1, 2.0), p=0.5)]),
]
labeled_pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')] + geometric + [
    dict(type='PhotoMetricDistortion'), dict(type='PackSegInputs')]
# the unlabeled images' labels are never loaded for training (add LoadAnnotations before the
# geometric transforms and set diagnose_pseudo_labels=True to measure pseudo-label accuracy)
unlabeled_pipeline = [dict(type='LoadImageFromFile')] + geometric[:1] + [
    dict(type='RandomCrop', crop_size=crop_size), geometric[2],
    dict(type='mtkit.WeakStrongViews', strong_pipeline=strong_pipeline)]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 1024), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]


def _train(ann_file, pipeline):
    return dict(type=dataset_type, data_root=data_root, ann_file=ann_file,
                data_prefix=dict(img_path='leftImg8bit/train', seg_map_path='gtFine/train'),
                pipeline=pipeline)


# data loading for one GPU of a 16-core machine (docs/gpu.md, "Data loading"): the unlabeled
# image's weak and strong views are decoded and augmented in 12 workers; pinned batches
train_dataloader = dict(
    batch_size=2, num_workers=12, pin_memory=True, persistent_workers=True, prefetch_factor=4,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='mtkit.SemiSegDataset',
                 labeled=_train(labeled_list, labeled_pipeline),
                 unlabeled=_train(unlabeled_list, unlabeled_pipeline)))
val_dataloader = dict(
    batch_size=1, num_workers=4, pin_memory=True, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root,
                 data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
