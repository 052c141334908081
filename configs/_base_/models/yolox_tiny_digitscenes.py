# YOLOX-tiny (mmdet's yolox_tiny architecture) for DigitScenes: 10 classes, 128 px, trained
# from scratch (no pretrained weights are reachable here). No BatchSyncRandomResize: inputs
# are padded to a multiple of 32 only (see docs/small_detectors_on_cpu.md).
norm_cfg = dict(type='BN', momentum=0.03, eps=0.001)
detector = dict(
    type='YOLOX',
    data_preprocessor=dict(type='DetDataPreprocessor', pad_size_divisor=32, batch_augments=None),
    backbone=dict(
        type='CSPDarknet', deepen_factor=0.33, widen_factor=0.375, out_indices=(2, 3, 4),
        use_depthwise=False, spp_kernal_sizes=(5, 9, 13), norm_cfg=norm_cfg,
        act_cfg=dict(type='Swish')),
    neck=dict(
        type='YOLOXPAFPN', in_channels=[96, 192, 384], out_channels=96, num_csp_blocks=1,
        use_depthwise=False, upsample_cfg=dict(scale_factor=2, mode='nearest'),
        norm_cfg=norm_cfg, act_cfg=dict(type='Swish')),
    bbox_head=dict(
        type='YOLOXHead', num_classes=10, in_channels=96, feat_channels=96, stacked_convs=2,
        strides=(8, 16, 32), use_depthwise=False, norm_cfg=norm_cfg,
        act_cfg=dict(type='Swish'),
        loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True, reduction='sum',
                      loss_weight=1.0),
        loss_bbox=dict(type='IoULoss', mode='square', eps=1e-16, reduction='sum',
                       loss_weight=5.0),
        loss_obj=dict(type='CrossEntropyLoss', use_sigmoid=True, reduction='sum',
                      loss_weight=1.0),
        loss_l1=dict(type='L1Loss', reduction='sum', loss_weight=1.0)),
    train_cfg=dict(assigner=dict(type='SimOTAAssigner', center_radius=2.5)),
    test_cfg=dict(score_thr=0.01, nms=dict(type='nms', iou_threshold=0.65), max_per_img=100))
