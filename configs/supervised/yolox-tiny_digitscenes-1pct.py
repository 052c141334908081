# Supervised-only baseline on the 1% labeled split of DigitScenes (20 images).
_base_ = ['./yolox-tiny_digitscenes-10pct.py']
train_dataloader = dict(dataset=dict(ann_file='annotations/instances_train.1@1.json'))
