# Dual Teacher (switching temporary teachers) for detection, from the converged supervised start:
# two temporary teachers take turns every epoch of the training set (250 iterations); the active
# one restarts from the student with alpha = min(1 - 1/(i+1), 0.99). The student predicts at
# test time, as in the paper; all three models are evaluated. Everything else (data, schedule,
# threshold 0.5) is ../mean_teacher/mt_yolox-tiny_digitscenes-10pct-converged.py.
# experiments/det_converged.py runs it at 1% labels (dt_1pct).
_base_ = ['../mean_teacher/mt_yolox-tiny_digitscenes-10pct-converged.py']
model = dict(num_teachers=2, semi_test_cfg=dict(predict_on='student'))
val_cfg = dict(type='mtkit.TeacherStudentEvalLoop', predict_on=('student', 'teacher', 'teacher2'))
test_cfg = dict(type='mtkit.TeacherStudentTestLoop', predict_on=('student', 'teacher', 'teacher2'))
default_hooks = dict(checkpoint=dict(save_best='student/coco/bbox_mAP'))
custom_hooks = [
    dict(type='mtkit.DualTeacherHook', interval=None, momentum_min=0.01, buffer_policy='copy'),
    dict(type='mtkit.PseudoLabelDiagnosticsHook', interval=50),
    dict(type='CheckInvalidLossHook', interval=50),
]
