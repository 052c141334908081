# Consistent-Teacher's per-class GMM thresholds ('high', floor 0.3;
# ../_base_/consistent_teacher_gmm.py, as ./ct_yolox-tiny_digitscenes-10pct-converged.py) on
# RetinaNet-R18w16 from its converged 1% start,
# ../mean_teacher/mt_retinanet-r18w16_digitscenes-1pct-converged.py.
_base_ = ['../mean_teacher/mt_retinanet-r18w16_digitscenes-1pct-converged.py',
          '../_base_/consistent_teacher_gmm.py']
model = dict(semi_train_cfg=dict(pseudo_filters=_base_.ct_gmm_filters))
