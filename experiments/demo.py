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
             pseudo=['pseudo/boxes_per_img', 'pseudo/precision', 'pseudo/recall'],
             # one 300-iteration run is noise (float differences between CPUs change the whole
             # run): the table ends with the model zoo's measured gain beside this run's
             reference=dict(file='model_zoo/digitscenes_det_converged.json', run_arm='mt',
                            arm='mt_long', baseline='sup_ema_long', model='teacher',
                            what='3 seeds, 3,000 iterations from a 5,000-iteration start'))
