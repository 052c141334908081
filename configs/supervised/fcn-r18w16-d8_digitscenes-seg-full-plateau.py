# As ./fcn-r18w16-d8_digitscenes-seg-1_8-plateau.py, on all 2,000 labeled train images: the
# full-label reference of the headroom.
_base_ = ['./fcn-r18w16-d8_digitscenes-seg-1_8-plateau.py']
train_dataloader = dict(dataset=dict(ann_file=''))
