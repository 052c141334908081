# `make demo`, the baseline: supervised continued (student) and supervised + EMA (teacher) from
# the same start, data stream and schedule as mt_yolox-tiny_digitscenes-demo.py.
_base_ = ['./mt_yolox-tiny_digitscenes-demo.py']
model = dict(semi_train_cfg=dict(unsup_weight=0.0))
