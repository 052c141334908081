# Dual Teacher (switching temporary teachers): DeepLabV3+-R50 on Cityscapes, 1/16 labeled; two
# teachers take turns every epoch of the unlabeled set (teacher A with CutMix, B with ClassMix), the
# active one restarting from the student with alpha = min(1 - 1/(i+1), 0.99); the student predicts.
_base_ = ['../_base_/default_runtime_seg.py', '../_base_/datasets/semi_cityscapes.py',
          '../_base_/models/deeplabv3plus_r50_cityscapes.py',
          '../_base_/schedules/cityscapes_80k.py']
model = dict(
    type='mtkit.MeanTeacherSegmentor',
    segmentor=_base_.segmentor,
    num_teachers=2,
    semi_train_cfg=dict(pseudo_thr=0.95, weighting='mask', unsup_weight=1.0),
    semi_test_cfg=dict(predict_on='student'))
val_cfg = dict(type='mtkit.TeacherStudentEvalLoop',
               predict_on=('student', 'teacher', 'teacher2'), empty_result_metrics=('mIoU', ))
test_cfg = dict(type='mtkit.TeacherStudentTestLoop',
                predict_on=('student', 'teacher', 'teacher2'), empty_result_metrics=('mIoU', ))
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=8000,
                                     save_best='student/mIoU', rule='greater'))
custom_hooks = [
    dict(type='mtkit.DualTeacherHook', interval=None,
         momentum_min=0.01, teacher_train_cfgs=[dict(mix='cutmix'), dict(mix='classmix')]),
    dict(type='mtkit.PseudoLabelDiagnosticsHook', interval=50),
]
