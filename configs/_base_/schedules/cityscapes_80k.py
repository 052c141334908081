# mmseg's Cityscapes 80k schedule: SGD 0.01, poly decay, 80k iterations (batch 2 x 4 GPUs).
optim_wrapper = dict(type='OptimWrapper', clip_grad=None,
                     optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0005))
param_scheduler = [dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=80000,
                        by_epoch=False)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=80000, val_interval=8000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
