# Single-pair self-training for domain-adaptive segmentation on DigitScenes-UDA (DAFormer-style,
# the baseline DTS is plugged into): the student trains on the labeled source batch and on
# target images into which the pixels of half the classes of a source image are pasted
# (mix='source_classmix'), the target pixels on the EMA teacher's pseudo labels, the source
# pixels on their ground truth with weight 1. The pseudo labels are class-balanced (every class
# among the pixels above 0.968 weighs the same): with DAFormer's weighting (weighting='fraction',
# each image by its share of confident pixels) the background dominated and the single pair
# collapsed to it on this benchmark (model_zoo/README.md). EMA momentum 0.001 (alpha 0.999).
# Both models start from the converged source model:
#   1. python tools/train.py configs/uda/source_fcn-r18w16-d8_digitscenes-uda.py \
#          --work-dir work_dirs/uda/source_s0
#   2. this config (load_from that checkpoint).
_base_ = ['../_base_/default_runtime_seg.py', '../_base_/datasets/uda_digitscenes_seg.py',
          '../_base_/models/fcn_r18_digitscenes_seg.py', '../_base_/schedules/digitscenes_seg.py']
_base_.segmentor.backbone.update(stem_channels=16, base_channels=16)
_base_.segmentor.decode_head.update(in_channels=128, channels=32)
model = dict(
    _delete_=True,
    type='mtkit.MeanTeacherSegmentor',
    segmentor=_base_.segmentor,
    semi_train_cfg=dict(pseudo_thr=0.968, weighting='class_balanced', mix='source_classmix',
                        unsup_weight=1.0, burn_in_iters=0, diagnose_pseudo_labels=True),
    semi_test_cfg=dict(predict_on='teacher'))
load_from = 'work_dirs/uda/source_s0/iter_8000.pth'
train_dataloader = dict(num_workers=1)
val_dataloader = dict(num_workers=1)
test_dataloader = dict(num_workers=1)
train_cfg = dict(max_iters=2000, val_interval=250)
val_cfg = dict(type='mtkit.TeacherStudentEvalLoop', predict_on=('teacher', 'student'),
               empty_result_metrics=('mIoU', ))
test_cfg = dict(type='mtkit.TeacherStudentTestLoop', predict_on=('teacher', 'student'),
                empty_result_metrics=('mIoU', ))
default_hooks = dict(checkpoint=dict(interval=1000, max_keep_ckpts=1, save_best=None))
custom_hooks = [dict(type='mtkit.EMATeacherHook', momentum=0.001),
                dict(type='mtkit.PseudoLabelDiagnosticsHook', interval=50)]
