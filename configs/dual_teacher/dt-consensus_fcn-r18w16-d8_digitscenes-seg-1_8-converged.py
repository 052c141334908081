# Dual Teacher with consensus of its two temporary teachers: a pixel is a pseudo label where the
# active teacher and the resting one (frozen at the end of its last turn, so the pair differs by
# a turn of training) predict the same class with confidence >= 0.8. Everything else is
# ./dt_fcn-r18w16-d8_digitscenes-seg-1_8-converged.py; experiments/seg_converged.py runs it with
# one-epoch turns.
_base_ = ['./dt_fcn-r18w16-d8_digitscenes-seg-1_8-converged.py']
model = dict(semi_train_cfg=dict(
    pseudo_filters=[dict(type='ConsensusFilter', dense_thr=0.8)],
    pseudo_thr=None))  # the threshold is in pseudo_filters
