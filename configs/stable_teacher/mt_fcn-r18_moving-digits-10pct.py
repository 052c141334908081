# EMA mean teacher: MSE consistency of the student's and the teacher's per-frame probabilities
# on labeled and unlabeled clips (weight 0.1, ramped in over 500 iterations); no DoP, no EoR.
_base_ = ['../_base_/stable_teacher_moving_digits.py']
model = dict(semi_train_cfg=dict(use_dop=False, use_eor=False))
custom_hooks = [dict(type='mtkit.StableTeacherHook'),
                dict(type='mtkit.PseudoLabelDiagnosticsHook', interval=50)]
