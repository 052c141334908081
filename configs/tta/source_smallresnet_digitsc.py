# Source model of the DigitsC test-time adaptation benchmark: SmallResNet (3 stages, 16/32/64
# channels) trained from scratch on the clean DigitScenes train crops, 32 x 32, validated on
# the clean test crops. tools/tta.py then adapts it on the corrupted test stream.
_base_ = ['../_base_/default_runtime_cls.py']
data_root = 'data/digitsc'
model = dict(
    type='mtkit.TTAImageClassifier',
    backbone=dict(type='mtkit.SmallResNet', widths=(16, 32, 64)),
    num_classes=10,
    data_preprocessor=dict(type='ImgDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True))
train_pipeline = [dict(type='LoadImageFromFile'), dict(type='mtkit.PackClsInputs')]
test_pipeline = train_pipeline
train_dataloader = dict(
    batch_size=64, num_workers=2, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='mtkit.DigitsCDataset', data_root=data_root, split='train',
                 domain='clean', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=256, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='mtkit.DigitsCDataset', data_root=data_root, split='test',
                 domain='clean', pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='mtkit.TopOneAccuracy')
test_evaluator = val_evaluator
train_cfg = dict(type='IterBasedTrainLoop', max_iters=1500, val_interval=500)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=2e-3,
                                                         weight_decay=0.05))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.05, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', T_max=1500, eta_min=1e-5, by_epoch=False, begin=0,
         end=1500),
]

# Test-time adaptation (tools/tta.py): the continual stream of the 15 corruptions at severity 5
# of the test crops, batches of 64, in a fixed shuffled order per seed.
tta = dict(
    data_root=data_root,
    severity=5,
    batch_size=64,
    methods=dict(
        source=dict(type='Source'),
        bn=dict(type='BNAdapt'),
        tent=dict(type='Tent', lr=1e-3),
        cotta=dict(type='CoTTA', lr=1e-3, momentum=0.001, ap=0.92, num_aug=32, restore_p=0.01),
        rmt=dict(type='RMT', lr=1e-3, momentum=0.001, source_free=True),
        rmt_replay=dict(type='RMT', lr=1e-3, momentum=0.001, source_free=False),
    ),
    source_batches=20,   # source batches for RMT's prototypes (and its replay stream)
    source_batch_size=64,  # their size (default: batch_size; keep it when streaming batches of 1)
)
