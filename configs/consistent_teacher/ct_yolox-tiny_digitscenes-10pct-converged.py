# Consistent-Teacher per-class GMM thresholds (with a floor of 0.3;
# ../_base_/consistent_teacher_gmm.py) on the converged-start mean teacher; everything else is
# ../mean_teacher/mt_yolox-tiny_digitscenes-10pct-converged.py.
_base_ = ['../mean_teacher/mt_yolox-tiny_digitscenes-10pct-converged.py',
          '../_base_/consistent_teacher_gmm.py']
model = dict(semi_train_cfg=dict(pseudo_filters=_base_.ct_gmm_filters))
