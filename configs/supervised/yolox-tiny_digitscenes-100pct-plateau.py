# Supervised YOLOX-tiny on 100% of DigitScenes train, trained towards its plateau: the headroom
# runs (1%, 10%, 100% labels at equal iterations) and the converged start of the
# semi-supervised phase (../mean_teacher/*-converged.py load its last checkpoint).
_base_ = ['./yolox-tiny_digitscenes-10pct.py']
train_dataloader = dict(batch_size=8, dataset=dict(ann_file='annotations/instances_train.json'))
train_cfg = dict(max_iters=5000, val_interval=1000)
default_hooks = dict(checkpoint=dict(interval=1000, max_keep_ckpts=1))
