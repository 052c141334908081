# Supervised-only baseline: YOLOX-tiny on the 10% labeled split of DigitScenes.
_base_ = [
    '../_base_/default_runtime_det.py', '../_base_/models/yolox_tiny_digitscenes.py',
    '../_base_/datasets/digitscenes_det.py', '../_base_/schedules/digitscenes_det.py'
]
model = _base_.detector
# 4 labeled images per iteration: the labeled share of the mean-teacher config's batch
# (4 labeled + 4 unlabeled), so that the two differ only by the unlabeled branch.
train_dataloader = dict(batch_size=4)
default_hooks = dict(checkpoint=dict(save_best='coco/bbox_mAP', rule='greater'))
custom_hooks = [dict(type='CheckInvalidLossHook', interval=50)]
