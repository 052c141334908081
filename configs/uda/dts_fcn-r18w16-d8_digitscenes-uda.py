# DTS (dual teacher-student) for domain-adaptive segmentation on DigitScenes-UDA: the single-pair
# self-training of st_fcn-r18w16-d8_digitscenes-uda.py plus a second (teacher, student) pair
# whose mixed images hold a larger proportion of target pixels (ClassMix pastes a quarter of
# each source image's classes instead of half), and bidirectional learning: each student trains
# on the other pair's teacher's pseudo labels. All four models start from the converged source
# model; each teacher is the EMA of its own student. docs/domain_adaptation.md.
#   python tools/train.py configs/uda/dts_fcn-r18w16-d8_digitscenes-uda.py
_base_ = ['./st_fcn-r18w16-d8_digitscenes-uda.py']
model = dict(
    type='mtkit.DualTeacherStudentSegmentor',
    semi_train_cfg=dict(second_classmix_share=0.25, second_sup_weight=1.0,
                        pseudo_labels='bidirectional'),
    semi_test_cfg=dict(predict_on='teacher'))
_predict_on = ('teacher', 'teacher2', 'student', 'student2')
val_cfg = dict(predict_on=_predict_on)
test_cfg = dict(predict_on=_predict_on)
custom_hooks = [dict(type='mtkit.EMATeacherHook', momentum=0.001),
                dict(type='mtkit.EMATeacherHook', momentum=0.001, teacher_name='teacher2'),
                dict(type='mtkit.PseudoLabelDiagnosticsHook', interval=50)]
