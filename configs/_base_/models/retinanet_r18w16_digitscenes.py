# RetinaNet, CPU-sized, for DigitScenes: the detector Consistent-Teacher's paper measured its
# per-class GMM thresholds on, at the scale of ./yolox_tiny_digitscenes.py (10 classes, 128 px,
# from scratch). ResNet-18 at a quarter of the width (16 stem and base channels: stages of 16,
# 32, 64, 128 channels), an FPN on strides 8/16/32 with 64 channels, a two-conv RetinaHead;
# anchors of 16-100 px for digits of 12-48 px. Focal loss and L1 box loss as mmdet's RetinaNet.
# The dict replaces the model of the config that inherits it (``_delete_``): see
# ../../supervised/retinanet-r18w16_digitscenes-1pct-plateau.py.
retinanet_detector = dict(
    _delete_=True,
    type='RetinaNet',
    data_preprocessor=dict(type='DetDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_size_divisor=32),
    backbone=dict(
        type='ResNet', depth=18, stem_channels=16, base_channels=16, num_stages=4,
        out_indices=(1, 2, 3), frozen_stages=-1, norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False, style='pytorch', init_cfg=None),
    neck=dict(type='FPN', in_channels=[32, 64, 128], out_channels=64, start_level=0,
              add_extra_convs='on_input', num_outs=3),
    bbox_head=dict(
        type='RetinaHead', num_classes=10, in_channels=64, stacked_convs=2, feat_channels=64,
        anchor_generator=dict(type='AnchorGenerator', octave_base_scale=2, scales_per_octave=3,
                              ratios=[0.5, 1.0, 2.0], strides=[8, 16, 32]),
        bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[.0, .0, .0, .0],
                        target_stds=[1.0, 1.0, 1.0, 1.0]),
        loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25,
                      loss_weight=1.0),
        loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
    train_cfg=dict(
        assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.4, min_pos_iou=0,
                      ignore_iof_thr=-1),
        sampler=dict(type='PseudoSampler'), allowed_border=-1, pos_weight=-1, debug=False),
    test_cfg=dict(nms_pre=1000, min_bbox_size=0, score_thr=0.01,
                  nms=dict(type='nms', iou_threshold=0.5), max_per_img=100))
