# Source model of the DigitScenes-C test-time adaptation benchmark: the supervised FCN
# (ResNet-18-V1c-D8, from scratch) trained on all clean DigitScenes segmentation train images,
# 128 px. tools/tta.py then adapts it on the corrupted test images of DigitScenes-C
# (python tools/make_digitscenes_c.py) and scores each domain by mIoU.
_base_ = ['../supervised/fcn-r18-d8_digitscenes-seg.py']
train_cfg = dict(max_iters=3000, val_interval=1000)
default_hooks = dict(checkpoint=dict(interval=1000, save_best=None, max_keep_ckpts=1))

tta_data_root = 'data/digitscenes_c/'
_seg_files = dict(type='BaseSegDataset', metainfo={{_base_.metainfo}},
                  img_suffix='_leftImg8bit.png', seg_map_suffix='_gtFine_labelTrainIds.png',
                  reduce_zero_label=False, pipeline={{_base_.test_pipeline}})
tta = dict(
    severity=5,
    batch_size=8,
    source_batches=25,  # 200 clean train images: RMT's pixel prototypes and replay stream
    source_batch_size=8,
    # labeled clean source images, for RMT's prototypes / replay
    source_dataset=dict(_seg_files, data_root={{_base_.data_root}},
                        data_prefix=dict(img_path='leftImg8bit/train',
                                         seg_map_path='gtFine/train')),
    # one corrupted test domain; {domain} = e.g. fog-5
    test_dataset=dict(_seg_files, data_root=tta_data_root,
                      data_prefix=dict(img_path='leftImg8bit/{domain}',
                                       seg_map_path='gtFine/test')),
    methods=dict(
        source=dict(type='Source'),
        bn=dict(type='BNAdapt'),
        tent=dict(type='Tent', lr=1e-4),
        cotta=dict(type='CoTTA', lr=1e-4, momentum=0.001, ap=0.92, num_aug=8, restore_p=0.01),
        rmt=dict(type='RMT', lr=1e-4, momentum=0.001, source_free=True, num_pixels=512),
        rmt_replay=dict(type='RMT', lr=1e-4, momentum=0.001, source_free=False, num_pixels=512),
    ),
)
