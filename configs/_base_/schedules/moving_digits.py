# Schedule of the MovingDigits experiments (model_zoo/README.md): 6000 iterations,
# AdamW. (At 2000 the from-scratch FCN has only just left all-background predictions.)
train_cfg = dict(type='IterBasedTrainLoop', max_iters=6000, val_interval=1000)
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3,
                                                         weight_decay=0.01))
param_scheduler = [dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100)]
