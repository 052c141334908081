# Supervised only on the 1/16 labeled split of DigitScenes-seg.
_base_ = ['./fcn-r18-d8_digitscenes-seg-1_8.py']
train_dataloader = dict(dataset=dict(ann_file='splits/train.1@1_16.txt'))
