# As mt_retinanet_r50_fpn_coco-10pct.py with 1% of COCO train2017 labeled (fold 1).
_base_ = ['./mt_retinanet_r50_fpn_coco-10pct.py']
percent = 1
fold = 1
labeled_dataset = _base_.labeled_dataset
unlabeled_dataset = _base_.unlabeled_dataset
labeled_dataset.ann_file = f'semi_anns/instances_train2017.{fold}@{percent}.json'
unlabeled_dataset.ann_file = f'semi_anns/instances_train2017.{fold}@{percent}-unlabeled.json'
train_dataloader = dict(dataset=dict(datasets=[labeled_dataset, unlabeled_dataset]))
