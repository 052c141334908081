# Supervised continued + EMA from the converged RetinaNet-R18w16 1% start: the baseline of
# ./mt_retinanet-r18w16_digitscenes-1pct-converged.py (unsupervised weight 0: the teacher is
# never run).
_base_ = ['./mt_retinanet-r18w16_digitscenes-1pct-converged.py']
model = dict(semi_train_cfg=dict(unsup_weight=0.0))
