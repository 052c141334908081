# The target oracle of DigitScenes-UDA: ./st_fcn-r18w16-d8_digitscenes-uda.py with the target
# train split's ground truth in place of the pseudo labels (the teacher is not run), so
# supervised on labeled source and target images, with the same mixing, start and schedule. It
# bounds what a pseudo-labelling method can reach.
_base_ = ['./st_fcn-r18w16-d8_digitscenes-uda.py']
# the plain cross-entropy of every target pixel on its ground truth (with the ground truth every
# pixel is kept, so 'fraction' weighs each image 1)
model = dict(semi_train_cfg=dict(oracle=True, weighting='fraction'))
