# The oracle of the converged-start mean teacher: the held-out ground truth of the unlabeled
# images replaces the pseudo labels (the teacher is not run). It bounds what any pseudo-label
# method reaches with this loss, CutMix and schedule. Everything else is
# ./mt_fcn-r18w16-d8_digitscenes-seg-1_8-converged.py.
_base_ = ['./mt_fcn-r18w16-d8_digitscenes-seg-1_8-converged.py']
model = dict(semi_train_cfg=dict(oracle=True))
