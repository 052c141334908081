# Dual Teacher on DigitScenes-seg, 1/16 labeled.
_base_ = ['./dt_fcn-r18-d8_digitscenes-seg-1_8.py']
train_dataloader = dict(dataset=dict(labeled=dict(ann_file='splits/train.1@1_16.txt'),
                                     unlabeled=dict(ann_file='splits/train.1@1_16-unlabeled.txt')))
