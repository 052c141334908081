# Supervised FCN (ResNet-18-V1c, dilated, from scratch) on all of DigitScenes segmentation,
# 128 px: the fully supervised reference for the semi-supervised configs.
_base_ = ['../_base_/default_runtime_seg.py', '../_base_/datasets/digitscenes_seg.py',
          '../_base_/models/fcn_r18_digitscenes_seg.py', '../_base_/schedules/digitscenes_seg.py']
default_hooks = dict(checkpoint=dict(save_best='mIoU', rule='greater'))
