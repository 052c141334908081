# The target oracle of source-free adaptation: the same run as the mean teacher config with the
# target train split's ground truth (in the student's view) in place of the pseudo labels:
# supervised on labeled target data, from the same source checkpoint, for the same iterations.
# It bounds what any pseudo-labelling method can reach here. Supervised on labels, it trains
# every loss term, objectness included.
_base_ = ['./mt_yolox-tiny_digitscenes-fog.py']
model = dict(semi_train_cfg=dict(oracle=dict(recall=1.0, false_positives=0.0, jitter=0.0),
                                 unsup_loss_terms=None))
