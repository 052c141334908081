# The README's main job: a short EMA mean-teacher run on DigitScenes (10% labels) that trains
# and evaluates on a 2-core CPU in a few minutes. Too short to beat the supervised baseline;
# see model_zoo/ for the measured comparison.
_base_ = ['./mt_yolox-tiny_digitscenes-10pct.py']
max_iters = 600
train_cfg = dict(max_iters=max_iters, val_interval=300)
model = dict(semi_train_cfg=dict(burn_in_iters=200, ramp_iters=100))
custom_hooks = [
    dict(type='mtkit.EMATeacherHook', momentum=0.01, begin_iter=200),
    dict(type='mtkit.PseudoLabelDiagnosticsHook', interval=25),
    dict(type='CheckInvalidLossHook', interval=50),
]
default_hooks = dict(logger=dict(interval=25), checkpoint=dict(interval=300))
