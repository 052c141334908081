# FCN with a dilated ResNet-18-V1c (output stride 8), from scratch, for 128 px DigitScenes
# segmentation (11 classes: background + 10 digits).
norm_cfg = dict(type='BN', requires_grad=True)
# (not called `data_preprocessor`: MMEngine would inject a top-level one into every model)
seg_data_preprocessor = dict(type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53],
                         std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_val=0,
                         seg_pad_val=255, size=(128, 128))
segmentor = dict(
    type='EncoderDecoder',
    data_preprocessor=seg_data_preprocessor,
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
model = segmentor
