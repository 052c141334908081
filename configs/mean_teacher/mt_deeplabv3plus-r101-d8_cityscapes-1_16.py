# EMA mean teacher: DeepLabV3+-R101 on Cityscapes, 1/16 labeled, the rest unlabeled; confidence
# threshold 0.95, CutMix, EMA momentum 0.01 (alpha 0.99). Batch: 2 labeled + 2 unlabeled per GPU.
_base_ = ['./mt_deeplabv3plus-r50-d8_cityscapes-1_16.py']
model = dict(segmentor=dict(pretrained='open-mmlab://resnet101_v1c', backbone=dict(depth=101)))
