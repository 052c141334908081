# EMA mean teacher on DigitScenes-seg, 1/8 labeled: FCN-R18-D8 student and teacher, confidence
# threshold 0.95, CutMix on the strong view, EMA momentum 0.01 (alpha 0.99, as the Dual Teacher
# paper's baseline). Same model, schedule and labeled data as
# ../supervised/fcn-r18-d8_digitscenes-seg-1_8.py.
_base_ = ['../_base_/default_runtime_seg.py', '../_base_/datasets/semi_digitscenes_seg.py',
          '../_base_/models/fcn_r18_digitscenes_seg.py', '../_base_/schedules/digitscenes_seg.py']
model = dict(
    _delete_=True,
    type='mtkit.MeanTeacherSegmentor',
    segmentor=_base_.segmentor,
    semi_train_cfg=dict(pseudo_thr=0.95, weighting='mask', mix='cutmix', unsup_weight=1.0,
                        burn_in_iters=0, diagnose_pseudo_labels=True),
    semi_test_cfg=dict(predict_on='teacher'))
val_cfg = dict(type='mtkit.TeacherStudentEvalLoop', predict_on=('teacher', 'student'),
               empty_result_metrics=('mIoU', ))
test_cfg = dict(type='mtkit.TeacherStudentTestLoop', predict_on=('teacher', 'student'),
                empty_result_metrics=('mIoU', ))
default_hooks = dict(checkpoint=dict(save_best='teacher/mIoU', rule='greater'))
custom_hooks = [dict(type='mtkit.EMATeacherHook', momentum=0.01),
                dict(type='mtkit.PseudoLabelDiagnosticsHook', interval=50)]
