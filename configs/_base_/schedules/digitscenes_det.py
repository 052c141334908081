# From-scratch schedule that works at 128 px on a 2-core CPU (docs/small_detectors_on_cpu.md):
# AdamW 1e-3, weight decay 0.05, 200-iteration linear warm-up, constant lr, grad clip 35.
max_iters = 3000
val_interval = 500
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=val_interval)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
    clip_grad=dict(max_norm=35, norm_type=2))
param_scheduler = [
    # lr stays at its base value once the warm-up ends
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=200),
]
