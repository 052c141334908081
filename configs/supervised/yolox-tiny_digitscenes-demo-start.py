# `make demo`, step 1: the supervised start of the demo's mean teacher (10% labels, batch 8,
# 1,500 iterations; a short version of yolox-tiny_digitscenes-10pct-plateau.py).
_base_ = ['./yolox-tiny_digitscenes-10pct-plateau.py']
train_cfg = dict(max_iters=1500, val_interval=1500)
default_hooks = dict(logger=dict(interval=100), checkpoint=dict(interval=1500))
