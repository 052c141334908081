# Supervised FCN-R18w16-D8 on the 1/8 labeled split of DigitScenes-seg, trained towards its
# plateau: the headroom runs (1/16, 1/8, all labels at equal iterations) and the converged start
# of the semi-supervised phase (../mean_teacher/*fcn-r18w16*-converged.py load its checkpoint).
# R18w16 is FCN-R18-D8 at a quarter of the width (stem and base channels 16 instead of 64, head
# 32 instead of 128, ~0.8 M parameters): a supervised step on 8 images of 128 px is ~0.15 s on
# one CPU thread, ~11x cheaper than the full-width model, so every arm and seed fits a CPU.
_base_ = ['./fcn-r18-d8_digitscenes-seg-1_8.py']
model = dict(backbone=dict(stem_channels=16, base_channels=16),
             decode_head=dict(in_channels=128, channels=32))
train_dataloader = dict(num_workers=1)
val_dataloader = dict(num_workers=1)
test_dataloader = dict(num_workers=1)
train_cfg = dict(max_iters=8000, val_interval=500)
default_hooks = dict(checkpoint=dict(interval=1000, max_keep_ckpts=1, save_best=None))
