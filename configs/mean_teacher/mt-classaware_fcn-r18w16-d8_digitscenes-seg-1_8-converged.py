# The mean teacher from the converged start with class-aware pixel pseudo labels: per-class
# thresholds at the running median of each class's teacher confidences (clamped to
# [0.5, 0.95]) and the class-balanced loss (every pseudo class among the kept pixels weighs the
# same), so background (~90% of the pixels) no longer dominates. Everything else is
# ./mt_fcn-r18w16-d8_digitscenes-seg-1_8-converged.py.
_base_ = ['./mt_fcn-r18w16-d8_digitscenes-seg-1_8-converged.py']
model = dict(semi_train_cfg=dict(
    pseudo_filters=[dict(type='ClassQuantileThreshold', num_classes=11, quantile=0.5,
                         momentum=0.1, init=0.95, floor=0.5, ceiling=0.95)],
    weighting='class_balanced',
    pseudo_thr=None))  # the threshold is in pseudo_filters
