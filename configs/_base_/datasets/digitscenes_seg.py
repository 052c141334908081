# DigitScenes segmentation data: the Cityscapes-layout output of tools/make_digitscenes.py
# (train ids: 0 background, digit d = d + 1), evaluated with mmseg's mIoU and the digit-only
# fg_mIoU (mtkit.ForegroundIoUMetric).
dataset_type = 'BaseSegDataset'
data_root = 'data/digitscenes/cityscapes/'
metainfo = dict(classes=('background', 'zero', 'one', 'two', 'three', 'four', 'five', 'six',
                         'seven', 'eight', 'nine'))
img_suffix = '_leftImg8bit.png'
seg_map_suffix = '_gtFine_labelTrainIds.png'
crop_size = (128, 128)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=(128, 128), ratio_range=(0.8, 1.25), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=1.0),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(128, 128), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]


def _split(split, pipeline, test_mode=False):
    return dict(type=dataset_type, data_root=data_root, metainfo=metainfo,
                img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, reduce_zero_label=False,
                data_prefix=dict(img_path=f'leftImg8bit/{split}', seg_map_path=f'gtFine/{split}'),
                pipeline=pipeline, test_mode=test_mode)


train_dataloader = dict(batch_size=8, num_workers=2, persistent_workers=True,
                        sampler=dict(type='InfiniteSampler', shuffle=True),
                        dataset=_split('train', train_pipeline))
val_dataloader = dict(batch_size=8, num_workers=2, persistent_workers=True,
                      sampler=dict(type='DefaultSampler', shuffle=False),
                      dataset=_split('val', test_pipeline, True))
test_dataloader = dict(batch_size=8, num_workers=2, persistent_workers=True,
                       sampler=dict(type='DefaultSampler', shuffle=False),
                       dataset=_split('test', test_pipeline, True))
# mmseg's mIoU over the 11 classes and, beside it, the digit-only mIoU (background left out:
# ~90% of the pixels, an all-background prediction scores well on it)
val_evaluator = dict(type='mtkit.ForegroundIoUMetric', background_classes=[0])
test_evaluator = val_evaluator
