# Supervised only: DeepLabV3+-R101 on the 1/4 labeled split of Cityscapes (512 x 1024 crops, 80k
# iterations, batch 2 per GPU); the baseline of the mean-teacher and dual-teacher configs.
_base_ = ['./deeplabv3plus-r50-d8_cityscapes-1_16.py']
model = dict(pretrained='open-mmlab://resnet101_v1c', backbone=dict(depth=101))
train_dataloader = dict(dataset=dict(ann_file='splits/train.1@1_4.txt'))
