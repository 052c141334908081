# Source-only: supervised FCN-R18w16-D8 on the labeled synthetic source of DigitScenes-UDA
# (tools/make_digitscenes_uda.py), validated on the realistic target's val split. Trained
# towards its plateau, it is the converged start of every adaptation config in this folder
# (they load its checkpoint) and the source-only reference of experiments/uda.py.
_base_ = ['../_base_/default_runtime_seg.py', '../_base_/datasets/uda_digitscenes_seg.py',
          '../_base_/models/fcn_r18_digitscenes_seg.py', '../_base_/schedules/digitscenes_seg.py']
model = dict(backbone=dict(stem_channels=16, base_channels=16),
             decode_head=dict(in_channels=128, channels=32))
train_dataloader = dict(num_workers=1, dataset=dict(_delete_=True, **_base_.source_train))
val_dataloader = dict(num_workers=1)
test_dataloader = dict(num_workers=1)
train_cfg = dict(max_iters=8000, val_interval=500)
default_hooks = dict(checkpoint=dict(interval=1000, max_keep_ckpts=1, save_best=None))
