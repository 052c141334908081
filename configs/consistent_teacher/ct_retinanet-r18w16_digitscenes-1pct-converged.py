# Consistent-Teacher's per-class GMM thresholds ('high', floor 0.3) on RetinaNet-R18w16 from its
# converged 1% start: the filters of ./ct_yolox-tiny_digitscenes-10pct-converged.py on
# ../mean_teacher/mt_retinanet-r18w16_digitscenes-1pct-converged.py.
_base_ = ['../mean_teacher/mt_retinanet-r18w16_digitscenes-1pct-converged.py']
model = dict(
    semi_train_cfg=dict(pseudo_filters=[
        dict(type='ScoreSumTopK', ratio=1.0),
        dict(type='GMMThreshold', num_classes=10, queue_size=100, policy='high',
             fallback=0.5, min_thr=0.3, nonfinite='error'),
        dict(type='MinBoxSize', min_size=2),
    ]))
