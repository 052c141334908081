# Consistent-Teacher-style pseudo labels on COCO with RetinaNet-R50-FPN, 10% labeled (fold 1):
# the score-sum pre-filter, then per-class GMM thresholds over the 80 classes (queues of 100
# scores, policy 'high'), on mtkit's EMA mean teacher. Data, schedule and EMA settings are
# ../_base_/mean_teacher_coco.py; Consistent-Teacher's ASA assigner and FAM-3D head are not
# part of this config. Config provided, not trained here (no COCO on our machines).
_base_ = ['../mean_teacher/mt_retinanet_r50_fpn_coco-10pct.py']
model = dict(
    semi_train_cfg=dict(pseudo_filters=[
        dict(type='ScoreSumTopK', ratio=1.0),
        dict(type='GMMThreshold', num_classes=80, queue_size=100, policy='high', fallback=0.5,
             nonfinite='error'),
        dict(type='MinBoxSize', min_size=(1e-2, 1e-2)),
    ]))
custom_hooks = [
    dict(type='mtkit.EMATeacherHook', momentum=0.0004),
    dict(type='mtkit.PseudoLabelDiagnosticsHook', interval=500),
    dict(type='CheckInvalidLossHook', interval=50),
]
