# Supervised RetinaNet-R18w16 (CPU-sized, ../_base_/models/retinanet_r18w16_digitscenes.py) on 1%
# of DigitScenes train, trained towards its plateau: the converged start of the RetinaNet arms
# of experiments/det_retinanet.py. Data, batch, schedule and hooks as
# ./yolox-tiny_digitscenes-1pct-plateau.py; only the detector differs.
_base_ = ['./yolox-tiny_digitscenes-1pct-plateau.py',
          '../_base_/models/retinanet_r18w16_digitscenes.py']
model = _base_.retinanet_detector
