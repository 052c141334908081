# Source-free domain-adaptive detection, DigitScenes -> DigitScenes-Fog (docs/domain_adaptation.md).
#
#   python tools/experiment.py experiments/sfod.py --arms source        # the source model
work_dir = 'work_dirs/sfod'
seeds = [0, 1, 2]
options = {'train_dataloader.num_workers': 1, 'val_dataloader.num_workers': 1}

arms = {
    # the source model: supervised YOLOX-tiny on all of DigitScenes train (clear), seed 0
    'source': dict(stage='sup', config='configs/supervised/yolox-tiny_digitscenes-100pct-plateau.py',
                   seeds=[0], options={'train_cfg.max_iters': 5000}),
}
table = dict(metric='coco/bbox_mAP', headroom_metric='coco/bbox_mAP', digits=3,
             models=['teacher', 'student'])
