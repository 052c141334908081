# Supervised FCN (ResNet-18-V1c, dilated, from scratch) on DigitScenes segmentation, 128 px.
# Shows that tools/train.py and tools/test.py drive mmseg configs; the semi-supervised
# segmentation configs come with the segmentation wrapper.
_base_ = ['../_base_/default_runtime_seg.py', '../_base_/datasets/digitscenes_seg.py']
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_val=0,
                           seg_pad_val=255, size=(128, 128)),
    backbone=dict(type='ResNetV1c', depth=18, num_stages=4, out_indices=(0, 1, 2, 3),
                  dilations=(1, 1, 2, 4), strides=(1, 2, 1, 1), norm_cfg=norm_cfg,
                  norm_eval=False, style='pytorch', contract_dilation=True),
    decode_head=dict(type='FCNHead', in_channels=512, in_index=3, channels=128, num_convs=2,
                     concat_input=True, dropout_ratio=0.1, num_classes=11, norm_cfg=norm_cfg,
                     align_corners=False,
                     loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False,
                                      loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
train_cfg = dict(type='IterBasedTrainLoop', max_iters=2000, val_interval=500)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3,
                                                         weight_decay=0.01))
param_scheduler = [dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=200)]
default_hooks = dict(checkpoint=dict(save_best='mIoU', rule='greater'))
