# Supervised only: DeepLabV3+-R50 on the 1/4 labeled split of Cityscapes (512 x 1024 crops, 80k
# iterations, batch 2 per GPU); the baseline of the mean-teacher and dual-teacher configs.
_base_ = ['./deeplabv3plus-r50-d8_cityscapes-1_16.py']
train_dataloader = dict(dataset=dict(ann_file='splits/train.1@1_4.txt'))
