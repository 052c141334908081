# Supervised only on the 1/8 labeled split of DigitScenes-seg (the baseline of
# ../mean_teacher/mt_fcn-r18-d8_digitscenes-seg-1_8.py and ../dual_teacher/...): same model,
# schedule, labeled images and labeled batch (8) as the semi-supervised configs.
_base_ = ['./fcn-r18-d8_digitscenes-seg.py']
labeled_list = 'splits/train.1@1_8.txt'
geometric = [
    dict(type='RandomResize', scale=(128, 128), ratio_range=(0.8, 1.25), keep_ratio=True),
    dict(type='RandomCrop', crop_size=(128, 128), cat_max_ratio=1.0),
]  # no flips: they change digits
train_dataloader = dict(dataset=dict(
    ann_file=labeled_list,
    pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')] + geometric + [
        dict(type='PhotoMetricDistortion'), dict(type='PackSegInputs')]))
