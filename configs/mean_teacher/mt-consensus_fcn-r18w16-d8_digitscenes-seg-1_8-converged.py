# Consensus of two EMA teachers (momenta 0.01 and 0.005) from the converged start: a pixel is a
# pseudo label where both teachers predict the same class with confidence >= 0.95. Everything
# else is ./mt_fcn-r18w16-d8_digitscenes-seg-1_8-converged.py.
_base_ = ['./mt_fcn-r18w16-d8_digitscenes-seg-1_8-converged.py']
model = dict(semi_train_cfg=dict(
    pseudo_filters=[dict(type='ConsensusFilter', dense_thr=0.95)],
    pseudo_thr=None))  # the threshold is in pseudo_filters
custom_hooks = [
    dict(type='mtkit.EMATeacherHook', momentum=0.01),
    dict(type='mtkit.EMATeacherHook', momentum=0.005, teacher_name='teacher2'),
    dict(type='mtkit.PseudoLabelDiagnosticsHook', interval=50),
]
