# Supervised continued + EMA from the converged start: the baseline of the *-converged
# segmentation arms. Same data stream, labeled batches, schedule and EMA hook; the unsupervised
# weight is 0, so the teacher never labels anything: the student is "supervised continued" and
# the teacher "supervised + EMA" (weight averaging alone).
_base_ = ['./mt_fcn-r18w16-d8_digitscenes-seg-1_8-converged.py']
model = dict(semi_train_cfg=dict(unsup_weight=0.0))
