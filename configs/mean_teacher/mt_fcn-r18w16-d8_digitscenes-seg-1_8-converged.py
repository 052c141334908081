# EMA mean teacher on DigitScenes-seg, 1/8 labeled, from a converged supervised start (the
# protocol of model_zoo/README.md "DigitScenes-seg from a converged start"):
#   1. python tools/train.py configs/supervised/fcn-r18w16-d8_digitscenes-seg-1_8-plateau.py \
#          --work-dir work_dirs/seg_converged/sup1_8_s0
#   2. this config: student and teacher both start from that checkpoint (a plain segmentor
#      checkpoint fills both), the teacher labels from the first iteration.
# FCN-R18w16-D8 (quarter width, CPU-sized); confidence threshold 0.95, CutMix, EMA momentum 0.01
# (alpha 0.99). Every arm of the experiment (experiments/seg_converged.py) is this
# config plus one change.
_base_ = ['./mt_fcn-r18-d8_digitscenes-seg-1_8.py']
load_from = 'work_dirs/seg_converged/sup1_8_s0/iter_8000.pth'
model = dict(segmentor=dict(backbone=dict(stem_channels=16, base_channels=16),
                            decode_head=dict(in_channels=128, channels=32)))
train_dataloader = dict(num_workers=1)
val_dataloader = dict(num_workers=1)
test_dataloader = dict(num_workers=1)
train_cfg = dict(max_iters=1000, val_interval=250)
default_hooks = dict(checkpoint=dict(interval=1000, max_keep_ckpts=1, save_best=None))
