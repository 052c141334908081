# Consistent-Teacher-style pseudo labels on the EMA mean teacher (10% labels): per image keep
# about round(sum of scores) boxes, then a per-class threshold from a 2-component GMM fitted
# to each class's last 100 teacher scores (policy 'high'). Everything else -- detector,
# schedule, data, EMA -- is ../mean_teacher/mt_yolox-tiny_digitscenes-10pct.py.
_base_ = ['../mean_teacher/mt_yolox-tiny_digitscenes-10pct.py']
num_classes = 10
model = dict(
    semi_train_cfg=dict(pseudo_filters=[
        dict(type='ScoreSumTopK', ratio=1.0),
        dict(type='GMMThreshold', num_classes=num_classes, queue_size=100, policy='high',
             fallback=0.5, nonfinite='error'),
        dict(type='MinBoxSize', min_size=2),
    ]))
