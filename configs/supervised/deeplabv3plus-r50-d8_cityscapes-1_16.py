# Supervised only: DeepLabV3+-R50 on the 1/16 labeled split of Cityscapes (512 x 1024 crops, 80k
# iterations, batch 2 per GPU); the baseline of the mean-teacher and dual-teacher configs.
_base_ = ['../_base_/default_runtime_seg.py', '../_base_/datasets/semi_cityscapes.py',
          '../_base_/models/deeplabv3plus_r50_cityscapes.py',
          '../_base_/schedules/cityscapes_80k.py']
model = _base_.segmentor
train_dataloader = dict(dataset=dict(_delete_=True, type=_base_.dataset_type,
                                     data_root=_base_.data_root,
                                     ann_file=_base_.labeled_list,
                                     data_prefix=dict(img_path='leftImg8bit/train',
                                                      seg_map_path='gtFine/train'),
                                     pipeline=_base_.labeled_pipeline))
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=8000, save_best='mIoU',
                                     rule='greater'))
