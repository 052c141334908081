# Grounded Teacher's expert for DigitScenes -> DigitScenes-Fog: a larger detector (YOLOX-s
# widths) trained like the source model on all of DigitScenes train (clear). Its boxes on the
# target train split feed configs/sfod/gt_yolox-tiny_digitscenes-fog.py:
#   python tools/train.py configs/sfod/expert_yolox-s_digitscenes.py \
#       --work-dir work_dirs/sfod/expert_s0
#   python tools/expert_predictions.py configs/sfod/expert_yolox-s_digitscenes.py \
#       work_dirs/sfod/expert_s0/iter_5000.pth \
#       --ann-file data/digitscenes_fog/coco/annotations/instances_train-unlabeled.json \
#       --img-dir data/digitscenes_fog/coco/train --out work_dirs/sfod/expert_train.json
_base_ = ['../supervised/yolox-tiny_digitscenes-100pct-plateau.py']
model = dict(
    backbone=dict(widen_factor=0.5),
    neck=dict(in_channels=[128, 256, 512], out_channels=128),
    bbox_head=dict(in_channels=128, feat_channels=128))
