# Semi-supervised DigitScenes segmentation: a labeled split and the rest as unlabeled images,
# paired item by item by mtkit.SemiSegDataset (1 labeled + 1 unlabeled image per batch slot).
# The lists come from tools/make_digitscenes.py (cityscapes/splits/train.1@1_8.txt etc.).
# The unlabeled pipeline loads the held-out label maps for pseudo-label diagnostics only.
dataset_type = 'BaseSegDataset'
data_root = 'data/digitscenes/cityscapes/'
metainfo = dict(classes=('background', 'zero', 'one', 'two', 'three', 'four', 'five', 'six',
                         'seven', 'eight', 'nine'))
img_suffix = '_leftImg8bit.png'
seg_map_suffix = '_gtFine_labelTrainIds.png'
crop_size = (128, 128)
labeled_list = 'splits/train.1@1_8.txt'
unlabeled_list = 'splits/train.1@1_8-unlabeled.txt'
# Label-preserving geometry only: a mirrored digit is another digit or none (2, 5, 7), so no
# flips in any digit config (tests/test_digit_augmentation.py)
geometric = [
    dict(type='RandomResize', scale=(128, 128), ratio_range=(0.8, 1.25), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=1.0),
]
# photometric only: the strong view stays aligned with the weak one pixel for pixel
strong_pipeline = [
    dict(type='Albu', transforms=[
        dict(type='ColorJitter', brightness=0.5, contrast=0.5, saturation=0.5, hue=0.25, p=0.8),
        dict(type='ToGray', p=0.2),
        dict(type='GaussianBlur', sigma_limit=(0.1, 2.0), p=0.5)]),
]
labeled_pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')] + geometric + [
    dict(type='PhotoMetricDistortion'), dict(type='PackSegInputs')]
unlabeled_pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')] + geometric + [
    dict(type='mtkit.WeakStrongViews', strong_pipeline=strong_pipeline)]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(128, 128), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]


def _train(ann_file, pipeline):
    return dict(type=dataset_type, data_root=data_root, metainfo=metainfo, ann_file=ann_file,
                img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, reduce_zero_label=False,
                data_prefix=dict(img_path='leftImg8bit/train', seg_map_path='gtFine/train'),
                pipeline=pipeline)


def _eval(split):
    return dict(type=dataset_type, data_root=data_root, metainfo=metainfo,
                img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, reduce_zero_label=False,
                data_prefix=dict(img_path=f'leftImg8bit/{split}', seg_map_path=f'gtFine/{split}'),
                pipeline=test_pipeline, test_mode=True)


train_dataloader = dict(
    batch_size=8, num_workers=2, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='mtkit.SemiSegDataset',
                 labeled=_train(labeled_list, labeled_pipeline),
                 unlabeled=_train(unlabeled_list, unlabeled_pipeline)))
val_dataloader = dict(batch_size=8, num_workers=2, persistent_workers=True,
                      sampler=dict(type='DefaultSampler', shuffle=False), dataset=_eval('val'))
test_dataloader = dict(batch_size=8, num_workers=2, persistent_workers=True,
                       sampler=dict(type='DefaultSampler', shuffle=False), dataset=_eval('test'))
# mmseg's mIoU over the 11 classes and, beside it, the digit-only mIoU (background left out:
# ~90% of the pixels, an all-background prediction scores well on it)
val_evaluator = dict(type='mtkit.ForegroundIoUMetric', background_classes=[0])
test_evaluator = val_evaluator
