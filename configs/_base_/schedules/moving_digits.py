# Schedule of the MovingDigits experiments (issue 6): 2000 iterations, AdamW.
train_cfg = dict(type='IterBasedTrainLoop', max_iters=2000, val_interval=500)
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3,
                                                         weight_decay=0.01))
param_scheduler = [dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100)]
