# `make demo`: a supervised start on 10% of DigitScenes, then supervised + EMA and the EMA mean
# teacher from it, side by side (CPU, minutes).
#
#   python tools/experiment.py experiments/demo.py
work_dir = 'work_dirs/demo'
seeds = [0]
options = {}
arms = {
    'sup10': dict(stage='sup', config='configs/supervised/yolox-tiny_digitscenes-demo-start.py'),
    'sup_ema': dict(config='configs/mean_teacher/sup-ema_yolox-tiny_digitscenes-demo.py',
                    start='sup10', pseudo=False),
    'mt': dict(config='configs/mean_teacher/mt_yolox-tiny_digitscenes-demo.py', start='sup10'),
}
table = dict(metric='coco/bbox_mAP', headroom_metric='coco/bbox_mAP', digits=3,
             models=['teacher', 'student'], baseline='sup_ema', full=None,
             pseudo=['pseudo/boxes_per_img', 'pseudo/precision', 'pseudo/recall'])
