# MovingDigits clips (python tools/make_moving_digits.py): 8 frames of 64 x 64, semantic train
# ids 0 background, digit d -> d + 1. Training pairs labeled and unlabeled clips item by item
# (mtkit.SemiClipDataset); every clip gets one random rescale / crop for all its frames (no flip:
# a mirrored digit is another digit or none, tests/test_digit_augmentation.py).
data_root = 'data/moving_digits/'
labeled_list = 'splits/train_labeled@10.txt'
unlabeled_list = 'splits/train_unlabeled@10.txt'
crop_size = (64, 64)
train_pipeline = [
    dict(type='mtkit.LoadClip'),
    dict(type='mtkit.ClipRandomFlipCrop', crop_size=crop_size, scale_range=(1.0, 1.25),
         flip_prob=0.0),
    dict(type='mtkit.PackClipSegInputs'),
]
test_pipeline = [dict(type='mtkit.LoadClip'), dict(type='mtkit.PackClipSegInputs')]
train_dataloader = dict(
    batch_size=2, num_workers=2, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type='mtkit.SemiClipDataset',
        labeled=dict(type='mtkit.ClipSegDataset', data_root=data_root, split='train',
                     clip_list=labeled_list, pipeline=train_pipeline),
        unlabeled=dict(type='mtkit.ClipSegDataset', data_root=data_root, split='train',
                       clip_list=unlabeled_list, with_labels=False, pipeline=train_pipeline)))


def _eval(split):
    return dict(batch_size=4, num_workers=2, persistent_workers=True,
                sampler=dict(type='DefaultSampler', shuffle=False),
                collate_fn=dict(type='pseudo_collate'),
                dataset=dict(type='mtkit.ClipSegDataset', data_root=data_root, split=split,
                             pipeline=test_pipeline, test_mode=True))


val_dataloader = _eval('val')
test_dataloader = _eval('test')
val_evaluator = dict(type='mtkit.ClipSegMetric')
test_evaluator = val_evaluator
