# Domain-adaptive DigitScenes segmentation (tools/make_digitscenes_uda.py): the labeled
# synthetic source and the unlabeled realistic target, paired item by item by
# mtkit.SemiSegDataset (1 source + 1 target image per batch slot); validated and tested on the
# target's labeled val / test splits. The target pipeline loads the held-out label maps for
# pseudo-label diagnostics and the oracle only.
dataset_type = 'BaseSegDataset'
source_root = 'data/digitscenes_uda/source/'
target_root = 'data/digitscenes_uda/target/'
metainfo = dict(classes=('background', 'zero', 'one', 'two', 'three', 'four', 'five', 'six',
                         'seven', 'eight', 'nine'))
img_suffix = '_leftImg8bit.png'
seg_map_suffix = '_gtFine_labelTrainIds.png'
crop_size = (128, 128)
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
source_pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')] + geometric + [
    dict(type='PhotoMetricDistortion'), dict(type='PackSegInputs')]
target_pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')] + geometric + [
    dict(type='mtkit.WeakStrongViews', strong_pipeline=strong_pipeline)]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(128, 128), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]


def _split(root, split, pipeline, test_mode=False):
    return dict(type=dataset_type, data_root=root, metainfo=metainfo,
                ann_file=f'splits/{split}.txt', img_suffix=img_suffix,
                seg_map_suffix=seg_map_suffix, reduce_zero_label=False,
                data_prefix=dict(img_path=f'leftImg8bit/{split}', seg_map_path=f'gtFine/{split}'),
                pipeline=pipeline, test_mode=test_mode)


source_train = _split(source_root, 'train', source_pipeline)
train_dataloader = dict(
    batch_size=8, num_workers=2, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='mtkit.SemiSegDataset', labeled=source_train,
                 unlabeled=_split(target_root, 'train', target_pipeline)))
val_dataloader = dict(batch_size=8, num_workers=2, persistent_workers=True,
                      sampler=dict(type='DefaultSampler', shuffle=False),
                      dataset=_split(target_root, 'val', test_pipeline, True))
test_dataloader = dict(batch_size=8, num_workers=2, persistent_workers=True,
                       sampler=dict(type='DefaultSampler', shuffle=False),
                       dataset=_split(target_root, 'test', test_pipeline, True))
# mmseg's mIoU over the 11 classes and the digit-only mIoU (background left out)
val_evaluator = dict(type='mtkit.ForegroundIoUMetric', background_classes=[0])
test_evaluator = val_evaluator
