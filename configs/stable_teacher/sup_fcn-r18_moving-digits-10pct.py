# Supervised only: the labeled 10% of MovingDigits clips (no consistency, no EoR). The
# teacher is still an EMA of the student (evaluated too), but trains nothing.
_base_ = ['../_base_/stable_teacher_moving_digits.py']
model = dict(semi_train_cfg=dict(unsup_weight=0.0, use_dop=False, use_eor=False))
custom_hooks = [dict(type='mtkit.StableTeacherHook'),
                dict(type='mtkit.PseudoLabelDiagnosticsHook', interval=50)]
