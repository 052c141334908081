# EMA mean teacher on COCO with RetinaNet-R50-FPN: 10% of train2017 labeled (fold 1), the other
# 90% unlabeled; data, schedule and teacher settings in ../_base_/mean_teacher_coco.py.
# Config provided, not trained here (no COCO on our machines).
_base_ = ['mmdet::_base_/models/retinanet_r50_fpn.py', '../_base_/mean_teacher_coco.py']
model = dict(
    _delete_=True,
    type='mtkit.MeanTeacherDetector',
    detector=_base_.model,
    semi_train_cfg=_base_.semi_train_cfg,
    semi_test_cfg=_base_.semi_test_cfg)
