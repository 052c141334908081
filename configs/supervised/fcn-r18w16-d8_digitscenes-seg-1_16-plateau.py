# As ./fcn-r18w16-d8_digitscenes-seg-1_8-plateau.py, on the 1/16 labeled split.
_base_ = ['./fcn-r18w16-d8_digitscenes-seg-1_8-plateau.py']
train_dataloader = dict(dataset=dict(ann_file='splits/train.1@1_16.txt'))
