# Shared by configs/stable_teacher/*: the per-frame FCN in mtkit.StableMeanTeacherSegmentor on
# MovingDigits with 10% labeled clips; the variants set semi_train_cfg (and the hook's pairs).
_base_ = ['./default_runtime_seg.py', './datasets/moving_digits.py',
          './models/fcn_r18_moving_digits.py', './schedules/moving_digits.py']
model = dict(
    type='mtkit.StableMeanTeacherSegmentor',
    segmentor={{_base_.segmentor}},
    eor=dict(type='mtkit.ErrorRecoveryUNet', channels=16, temporal=True),
    semi_train_cfg=dict(unsup_weight=0.1, ramp_iters=500, ramp='sigmoid',
                        use_dop=True, use_eor=True, eor_weight=1.0, noise_std=0.1),
    semi_test_cfg=dict(predict_on='teacher'))
val_cfg = dict(type='mtkit.TeacherStudentEvalLoop', predict_on=('teacher', 'student'))
test_cfg = dict(type='mtkit.TeacherStudentTestLoop', predict_on=('teacher', 'student'))
default_hooks = dict(checkpoint=dict(interval=1000, save_best='teacher/clip/mIoU', rule='greater'),
                     visualization=dict(type='SegVisualizationHook', draw=False))
custom_hooks = [dict(type='mtkit.StableTeacherHook',
                     schedule=dict(type='mean_teacher', momentum_min=0.01)),
                dict(type='mtkit.PseudoLabelDiagnosticsHook', interval=50)]
