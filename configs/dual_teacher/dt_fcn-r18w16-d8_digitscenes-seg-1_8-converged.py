# Dual Teacher on DigitScenes-seg, 1/8 labeled, from the converged supervised start, at the
# reference code's turn length relative to the schedule: it trains 200 epochs of the labeled
# loader and switches teachers every epoch, so here 200 turns over the run (5 iterations each
# at 1,000). Teacher A pairs with CutMix, teacher B with ClassMix; the student predicts at test
# time. Model, data and schedule as
# ../mean_teacher/mt_fcn-r18w16-d8_digitscenes-seg-1_8-converged.py.
_base_ = ['./dt_fcn-r18-d8_digitscenes-seg-1_8.py']
load_from = 'work_dirs/seg_converged/sup1_8_s0/iter_8000.pth'
model = dict(segmentor=dict(backbone=dict(stem_channels=16, base_channels=16),
                            decode_head=dict(in_channels=128, channels=32)))
train_dataloader = dict(num_workers=1)
val_dataloader = dict(num_workers=1)
test_dataloader = dict(num_workers=1)
train_cfg = dict(max_iters=1000, val_interval=250)
default_hooks = dict(checkpoint=dict(interval=1000, max_keep_ckpts=1, save_best=None))
custom_hooks = [
    dict(type='mtkit.DualTeacherHook', turns=200,
         momentum_min=0.01, teacher_train_cfgs=[dict(mix='cutmix'), dict(mix='classmix')]),
    dict(type='mtkit.PseudoLabelDiagnosticsHook', interval=50),
]
