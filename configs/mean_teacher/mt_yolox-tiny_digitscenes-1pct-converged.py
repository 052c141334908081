# EMA mean teacher from a converged supervised start at 1% labels (20 images), the other 99%
# unlabeled; the 1% arm of model_zoo/README.md "DigitScenes-det from a converged start":
#   1. python tools/train.py configs/supervised/yolox-tiny_digitscenes-1pct-plateau.py \
#          --work-dir work_dirs/sup_plateau_1pct
#   2. this config (teacher and student start from that checkpoint).
# Loss policies, schedule and hooks are those of ./mt_yolox-tiny_digitscenes-10pct-converged.py.
_base_ = ['./mt_yolox-tiny_digitscenes-10pct-converged.py']
load_from = 'work_dirs/sup_plateau_1pct/iter_5000.pth'
percent = 1
fold = 1
labeled_dataset = _base_.labeled_dataset
unlabeled_dataset = _base_.unlabeled_dataset
labeled_dataset.ann_file = f'annotations/instances_train.{fold}@{percent}.json'
unlabeled_dataset.ann_file = f'annotations/instances_train.{fold}@{percent}-unlabeled.gt.json'
train_dataloader = dict(dataset=dict(datasets=[labeled_dataset, unlabeled_dataset]))
