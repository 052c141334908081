# A narrow FCN for 64 px MovingDigits frames: dilated ResNet-18-V1c with 16 base channels
# (output stride 8), from scratch, 11 classes. Applied to every frame of a clip by
# mtkit.StableMeanTeacherSegmentor.
norm_cfg = dict(type='BN', requires_grad=True)
segmentor = dict(
    type='EncoderDecoder',
    backbone=dict(type='ResNetV1c', depth=18, num_stages=4, out_indices=(0, 1, 2, 3),
                  stem_channels=16, base_channels=16, dilations=(1, 1, 2, 4),
                  strides=(1, 2, 1, 1), norm_cfg=norm_cfg, norm_eval=False, style='pytorch',
                  contract_dilation=True),
    decode_head=dict(type='FCNHead', in_channels=128, in_index=3, channels=64, num_convs=2,
                     concat_input=True, dropout_ratio=0.1, num_classes=11, norm_cfg=norm_cfg,
                     align_corners=False,
                     loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False,
                                      loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
