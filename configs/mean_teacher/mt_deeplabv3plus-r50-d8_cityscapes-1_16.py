# EMA mean teacher: DeepLabV3+-R50 on Cityscapes, 1/16 labeled, the rest unlabeled; confidence
# threshold 0.95, CutMix, EMA momentum 0.01 (alpha 0.99). Batch: 2 labeled + 2 unlabeled per GPU.
_base_ = ['../_base_/default_runtime_seg.py', '../_base_/datasets/semi_cityscapes.py',
          '../_base_/models/deeplabv3plus_r50_cityscapes.py',
          '../_base_/schedules/cityscapes_80k.py']
model = dict(
    type='mtkit.MeanTeacherSegmentor',
    segmentor=_base_.segmentor,
    semi_train_cfg=dict(pseudo_thr=0.95, weighting='mask', mix='cutmix', unsup_weight=1.0),
    semi_test_cfg=dict(predict_on='teacher'))
val_cfg = dict(type='mtkit.TeacherStudentEvalLoop', predict_on=('teacher', 'student'),
               empty_result_metrics=('mIoU', ))
test_cfg = dict(type='mtkit.TeacherStudentTestLoop', predict_on=('teacher', 'student'),
                empty_result_metrics=('mIoU', ))
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=8000,
                                     save_best='teacher/mIoU', rule='greater'))
custom_hooks = [dict(type='mtkit.EMATeacherHook', momentum=0.01),
                dict(type='mtkit.PseudoLabelDiagnosticsHook', interval=50)]
