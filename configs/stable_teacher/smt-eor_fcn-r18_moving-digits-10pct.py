# Stable mean teacher, EoR only: the error-recovery module refines the teacher's probabilities;
# consistency to the teacher and to its refinement, without the temporal differences.
_base_ = ['../_base_/stable_teacher_moving_digits.py']
model = dict(semi_train_cfg=dict(use_dop=False, use_eor=True))
