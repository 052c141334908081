# Source-free domain-adaptive detection, DigitScenes -> DigitScenes-Fog (docs/domain_adaptation.md).
# Needs python tools/make_digitscenes.py and python tools/make_digitscenes_fog.py.
#
#   python tools/experiment.py experiments/sfod.py --arms source                  # source model
#   python tools/experiment.py experiments/sfod.py --arms source_only oracle mt pets
#   python tools/experiment.py experiments/sfod.py --arms pets_frozen pets_copy     # ablations
#
# The source model trains 5,000 iterations on all of DigitScenes train (clear). Every
# adaptation arm starts from it and trains 1,000 iterations (4 epochs of the 2,000 unlabeled
# foggy images), validated every 250 on the foggy val split (all severities). source_only
# evaluates the source model on that split; oracle trains on the target split's labels.
work_dir = 'work_dirs/sfod'
seeds = [0, 1, 2]
options = {'train_dataloader.num_workers': 1, 'val_dataloader.num_workers': 1}

_MT = 'configs/sfod/mt_yolox-tiny_digitscenes-fog.py'
_PETS = 'configs/sfod/pets_yolox-tiny_digitscenes-fog.py'
_ORACLE = 'configs/sfod/oracle_yolox-tiny_digitscenes-fog.py'
# tools/test.py evaluates the test split: point it at val, like the other arms' validations
_ON_VAL = {'test_dataloader.num_workers': 1,
           'test_dataloader.dataset.ann_file': 'annotations/instances_val.json',
           'test_dataloader.dataset.data_prefix.img': 'val/',
           'test_evaluator.ann_file': 'data/digitscenes_fog/coco/annotations/instances_val.json'}

arms = {
    # the source model: supervised YOLOX-tiny on all of DigitScenes train (clear), seed 0
    'source': dict(stage='sup',
                   config='configs/supervised/yolox-tiny_digitscenes-100pct-plateau.py',
                   seeds=[0], options={'train_cfg.max_iters': 5000}),
    # references: the source model on the foggy val split; the target oracle (ground truth of
    # the target train split in place of pseudo labels, same start, schedule and views)
    'source_only': dict(stage='test', config=_MT, start='source', seeds=[0], options=_ON_VAL,
                        pseudo=False),
    'oracle': dict(config=_ORACLE, start='source'),
    # the methods
    'mt': dict(config=_MT, start='source'),
    'pets': dict(config=_PETS, start='source'),
    # PETS' exchange ablated: the static teacher stays the source model; or it becomes a copy
    # of the student at each epoch's end (no swap back)
    'pets_frozen': dict(config=_PETS, start='source',
                        options={'custom_hooks.0.mode': 'frozen'}),
    'pets_copy': dict(config=_PETS, start='source', options={'custom_hooks.0.mode': 'copy'}),
}
table = dict(metric='coco/bbox_mAP', headroom_metric='coco/bbox_mAP', digits=3,
             models=['teacher', 'student'], baseline='source_only', full='oracle', peak=True,
             extra=['coco/bbox_mAP_50', 'coco/rare_mAP'] +
             [f'coco/fog{s}_bbox_mAP' for s in (1, 2, 3, 4, 5)],
             extra_models=['teacher'],
             pseudo=['pseudo/boxes_per_img', 'pseudo/precision', 'pseudo/recall'])
