# Dual Teacher (switching temporary teachers): DeepLabV3+-R101 on Cityscapes, 1/8 labeled; two
# teachers take turns every epoch of the unlabeled set (teacher A with CutMix, B with ClassMix), the
# active one restarting from the student with alpha = min(1 - 1/(i+1), 0.99); the student predicts.
_base_ = ['./dt_deeplabv3plus-r50-d8_cityscapes-1_16.py']
model = dict(segmentor=dict(pretrained='open-mmlab://resnet101_v1c', backbone=dict(depth=101)))
train_dataloader = dict(dataset=dict(
    labeled=dict(ann_file='splits/train.1@1_8.txt'),
    unlabeled=dict(ann_file='splits/train.1@1_8-unlabeled.txt')))
