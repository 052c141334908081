# Oracle bound of the converged-start mean teacher: the unlabeled images' held-out ground truth
# replaces the teacher's pseudo labels (same loss policies, schedule and EMA). Degrade it with
# --cfg-options model.semi_train_cfg.oracle.recall=0.6 (or false_positives=..., jitter=...).
_base_ = ['./mt_yolox-tiny_digitscenes-10pct-converged.py']
model = dict(semi_train_cfg=dict(oracle=dict(recall=1.0, false_positives=0.0, jitter=0.0)))
