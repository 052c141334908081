# `make demo`, step 2: the EMA mean teacher from the supervised start of step 1 (the Makefile
# passes --cfg-options load_from=work_dirs/demo/sup10_s0/iter_1500.pth), 300 iterations, with
# the pseudo labels logged every 25 (boxes per image, precision and recall against the
# unlabeled images' held-out ground truth). Its baseline from the same start is
# sup-ema_yolox-tiny_digitscenes-demo.py; the converged-start comparison with 3 seeds is in
# model_zoo/README.md.
_base_ = ['./mt_yolox-tiny_digitscenes-10pct-converged.py']
load_from = None
train_cfg = dict(max_iters=300, val_interval=300)
model = dict(semi_train_cfg=dict(ramp_iters=50))
custom_hooks = [
    dict(type='mtkit.EMATeacherHook', momentum=0.01),
    dict(type='mtkit.PseudoLabelDiagnosticsHook', interval=25),
    dict(type='CheckInvalidLossHook', interval=50),
]
default_hooks = dict(logger=dict(interval=25), checkpoint=dict(interval=300, max_keep_ckpts=2))
