# Supervised continued + EMA from the converged 1% start: the baseline of
# ./mt_yolox-tiny_digitscenes-1pct-converged.py (same data stream, schedule and EMA hook; the
# unsupervised weight is 0, so the teacher is never run).
_base_ = ['./mt_yolox-tiny_digitscenes-1pct-converged.py']
model = dict(semi_train_cfg=dict(unsup_weight=0.0))
