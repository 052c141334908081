# Supervised continued + EMA from the converged start: the baseline of every *-converged
# mean teacher. Same data stream, labeled batches, schedule and EMA hook; the unsupervised
# weight is 0, so the teacher is never run: the student is "supervised continued" and the
# teacher "supervised + EMA" (weight averaging alone).
_base_ = ['./mt_yolox-tiny_digitscenes-10pct-converged.py']
model = dict(semi_train_cfg=dict(unsup_weight=0.0))
