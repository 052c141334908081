# EMA mean teacher with 1% of DigitScenes train labeled (20 images), the other 99% unlabeled.
_base_ = ['./mt_yolox-tiny_digitscenes-10pct.py']
percent = 1
fold = 1
labeled_dataset = _base_.labeled_dataset
unlabeled_dataset = _base_.unlabeled_dataset
labeled_dataset.ann_file = f'annotations/instances_train.{fold}@{percent}.json'
unlabeled_dataset.ann_file = f'annotations/instances_train.{fold}@{percent}-unlabeled.gt.json'
train_dataloader = dict(dataset=dict(datasets=[labeled_dataset, unlabeled_dataset]))
