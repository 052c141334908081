# Consistent-Teacher-style GMM thresholds, 1% labels (see ct_yolox-tiny_digitscenes-10pct.py).
_base_ = ['../mean_teacher/mt_yolox-tiny_digitscenes-1pct.py']
num_classes = 10
model = dict(
    semi_train_cfg=dict(pseudo_filters=[
        dict(type='ScoreSumTopK', ratio=1.0),
        dict(type='GMMThreshold', num_classes=num_classes, queue_size=100, policy='high',
             fallback=0.5, nonfinite='error'),
        dict(type='MinBoxSize', min_size=2),
    ]))
