# Stable mean teacher, DoP only: mean-teacher MSE plus the MSE of frame-to-frame differences.
_base_ = ['../_base_/stable_teacher_moving_digits.py']
model = dict(semi_train_cfg=dict(use_dop=True, use_eor=False))
custom_hooks = [dict(type='mtkit.StableTeacherHook'),
                dict(type='mtkit.PseudoLabelDiagnosticsHook', interval=50)]
