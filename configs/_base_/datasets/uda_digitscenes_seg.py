# Domain-adaptive DigitScenes segmentation (tools/make_digitscenes_uda.py): the labeled
# synthetic source and the unlabeled realistic target, paired item by item by
# mtkit.SemiSegDataset (1 source + 1 target image per batch slot); validated and tested on the
# target's labeled val / test splits. The pipelines are semi-supervised DigitScenes' (no flips;
# a photometric strong view); the target pipeline loads the held-out label maps for
# pseudo-label diagnostics and the oracle only.
_base_ = ['./semi_digitscenes_seg.py']
source_root = 'data/digitscenes_uda/source/'
target_root = 'data/digitscenes_uda/target/'


def _split(root, split, pipeline, test_mode=False):
    return dict(type=_base_.dataset_type, data_root=root,
                metainfo=_base_.metainfo, ann_file=f'splits/{split}.txt',
                img_suffix=_base_.img_suffix, seg_map_suffix=_base_.seg_map_suffix,
                reduce_zero_label=False,
                data_prefix=dict(img_path=f'leftImg8bit/{split}', seg_map_path=f'gtFine/{split}'),
                pipeline=pipeline, test_mode=test_mode)


source_train = _split(source_root, 'train', _base_.labeled_pipeline)
# (_delete_: replace, not merge into, the base's DigitScenes datasets)
train_dataloader = dict(dataset=dict(
    labeled=dict(_delete_=True, **source_train),
    unlabeled=dict(_delete_=True, **_split(target_root, 'train', _base_.unlabeled_pipeline))))
val_dataloader = dict(dataset=dict(_delete_=True,
                                   **_split(target_root, 'val', _base_.test_pipeline, True)))
test_dataloader = dict(dataset=dict(_delete_=True,
                                    **_split(target_root, 'test', _base_.test_pipeline, True)))
