# Consistent-Teacher per-class GMM thresholds (with a floor of 0.3) on the converged-start mean
# teacher; everything else is ../mean_teacher/mt_yolox-tiny_digitscenes-10pct-converged.py.
_base_ = ['../mean_teacher/mt_yolox-tiny_digitscenes-10pct-converged.py']
model = dict(
    semi_train_cfg=dict(pseudo_filters=[
        dict(type='ScoreSumTopK', ratio=1.0),
        dict(type='GMMThreshold', num_classes=10, queue_size=100, policy='high',
             fallback=0.5, min_thr=0.3, nonfinite='error'),
        dict(type='MinBoxSize', min_size=2),
    ]))
