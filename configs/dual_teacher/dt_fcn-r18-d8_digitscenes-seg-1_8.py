# Dual Teacher (switching temporary teachers) on DigitScenes-seg, 1/8 labeled: two teachers take
# turns every epoch of the unlabeled set; the active one restarts from the student with
# alpha = min(1 - 1/(i+1), 0.99); teacher A pairs with CutMix, teacher B with ClassMix. The
# student predicts at test time (as in the paper); all three models are evaluated.
_base_ = ['../_base_/default_runtime_seg.py', '../_base_/datasets/semi_digitscenes_seg.py',
          '../_base_/models/fcn_r18_digitscenes_seg.py', '../_base_/schedules/digitscenes_seg.py']
model = dict(
    _delete_=True,
    type='mtkit.MeanTeacherSegmentor',
    segmentor=_base_.segmentor,
    num_teachers=2,
    semi_train_cfg=dict(pseudo_thr=0.95, weighting='mask', unsup_weight=1.0, burn_in_iters=0,
                        diagnose_pseudo_labels=True),
    semi_test_cfg=dict(predict_on='student'))
val_cfg = dict(type='mtkit.TeacherStudentEvalLoop', predict_on=('student', 'teacher', 'teacher2'),
               empty_result_metrics=('mIoU', ))
test_cfg = dict(type='mtkit.TeacherStudentTestLoop', predict_on=('student', 'teacher', 'teacher2'),
                empty_result_metrics=('mIoU', ))
default_hooks = dict(checkpoint=dict(save_best='student/mIoU', rule='greater'))
custom_hooks = [
    dict(type='mtkit.DualTeacherHook', interval=None,
         momentum_min=0.01, teacher_train_cfgs=[dict(mix='cutmix'), dict(mix='classmix')]),
    dict(type='mtkit.PseudoLabelDiagnosticsHook', interval=50),
]
