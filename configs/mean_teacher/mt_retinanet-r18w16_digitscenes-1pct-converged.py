# EMA mean teacher on RetinaNet-R18w16 (CPU-sized) from its converged 1% start:
#   1. python tools/train.py configs/supervised/retinanet-r18w16_digitscenes-1pct-plateau.py \
#          --work-dir work_dirs/det_retinanet/sup1_s0
#   2. this config (teacher and student start from that checkpoint).
# Everything else (threshold 0.5, loss policies, schedule, EMA momentum, hooks) is
# ./mt_yolox-tiny_digitscenes-1pct-converged.py; experiments/det_retinanet.py runs the arms.
_base_ = ['./mt_yolox-tiny_digitscenes-1pct-converged.py',
          '../_base_/models/retinanet_r18w16_digitscenes.py']
load_from = 'work_dirs/det_retinanet/sup1_s0/iter_5000.pth'
model = dict(detector=_base_.retinanet_detector)
