# Two EMA teachers (momenta 0.004 and 0.002) from the converged start: a pseudo box is kept
# when both teachers find it (same class, IoU >= 0.5). Everything else is
# ./mt_yolox-tiny_digitscenes-10pct-converged.py.
_base_ = ['./mt_yolox-tiny_digitscenes-10pct-converged.py']
model = dict(
    semi_train_cfg=dict(pseudo_filters=[
        dict(type='ScoreThreshold', thr=0.5),
        dict(type='ConsensusFilter', iou_thr=0.5, score_rule='mean'),
        dict(type='MinBoxSize', min_size=2),
    ]))
custom_hooks = [
    dict(type='mtkit.EMATeacherHook', momentum=0.004, buffer_policy='copy'),
    dict(type='mtkit.EMATeacherHook', momentum=0.002, buffer_policy='copy',
         teacher_name='teacher2'),
    dict(type='mtkit.PseudoLabelDiagnosticsHook', interval=50),
    dict(type='CheckInvalidLossHook', interval=50),
]
