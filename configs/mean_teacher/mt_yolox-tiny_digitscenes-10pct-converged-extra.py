# The converged-start mean teacher with a larger unlabeled pool: the 1,800 unlabeled train
# images plus the unlabeled-only images of
#   python tools/make_digitscenes.py --out data/digitscenes --extra-unlabeled 4000
# (coco/unlabeled/, digits from the train pool; their held-out ground truth feeds only the
# pseudo-label diagnostics). Everything else is ./mt_yolox-tiny_digitscenes-10pct-converged.py.
_base_ = ['./mt_yolox-tiny_digitscenes-10pct-converged.py']
labeled_dataset = _base_.labeled_dataset
split_unlabeled = _base_.unlabeled_dataset
extra_unlabeled = dict(
    type=split_unlabeled.type, data_root=split_unlabeled.data_root,
    metainfo=split_unlabeled.metainfo, ann_file='annotations/instances_unlabeled.gt.json',
    data_prefix=dict(img='unlabeled/'), filter_cfg=dict(filter_empty_gt=False),
    pipeline=split_unlabeled.pipeline)
# ignore_keys: mmdet's ConcatDataset compares the sources' metainfo, and the inner
# ConcatDataset's holds its cumulative_sizes
train_dataloader = dict(dataset=dict(ignore_keys=['cumulative_sizes'], datasets=[
    labeled_dataset,
    dict(type='ConcatDataset', datasets=[split_unlabeled, extra_unlabeled]),
]))
