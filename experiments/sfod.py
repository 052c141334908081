# Source-free domain-adaptive detection, DigitScenes -> DigitScenes-Fog (docs/domain_adaptation.md).
# Needs python tools/make_digitscenes.py and python tools/make_digitscenes_fog.py.
#
#   python tools/experiment.py experiments/sfod.py --arms source                  # source model
#   python tools/experiment.py experiments/sfod.py --arms source_only oracle mt pets
#   python tools/experiment.py experiments/sfod.py --arms mt_obj pets_obj mt_ignore_obj  # collapse
#   python tools/experiment.py experiments/sfod.py --arms pets_frozen pets_copy     # ablations
#   python tools/experiment.py experiments/sfod.py --arms expert                  # GT's expert
#   python tools/expert_predictions.py configs/sfod/expert_yolox-s_digitscenes.py \
#       work_dirs/sfod/expert_s0/iter_5000.pth \
#       --ann-file data/digitscenes_fog/coco/annotations/instances_train-unlabeled.json \
#       --img-dir data/digitscenes_fog/coco/train --out work_dirs/sfod/expert_train.json
#   python tools/experiment.py experiments/sfod.py --arms gt gt_no_rcm gt_no_sa gt_no_sal \
#       gt_no_expert
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
_GT = 'configs/sfod/gt_yolox-tiny_digitscenes-fog.py'
_WITH_OBJ = {'model.semi_train_cfg.unsup_loss_terms': ['loss_cls', 'loss_bbox', 'loss_obj']}
_LONG = {'train_cfg.max_iters': 3000, 'train_cfg.val_interval': 500}
_EXPERT_FILE = {'model.semi_train_cfg.expert.predictions': '{work_dir}/expert_train.json'}
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
    # the methods. Every one trains classification and boxes on the pseudo labels, not
    # objectness (configs/sfod/mt_yolox-tiny_digitscenes-fog.py); with it (*_obj) the mean
    # teacher collapses (its pseudo-label recall falls to 0)
    'mt': dict(config=_MT, start='source'),
    'mt_obj': dict(config=_MT, start='source', options=_WITH_OBJ),
    # the other lever against the collapse, with the objectness loss: every location of a
    # teacher box scoring >= 0.02 left out of the background loss, and only images with a
    # pseudo box
    'mt_ignore_obj': dict(config=_MT, start='source', options=dict(_WITH_OBJ, **{
        'model.semi_train_cfg.uncertain_thr': 0.02,
        'model.semi_train_cfg.unsup_images': 'with_pseudo'})),
    'pets': dict(config=_PETS, start='source'),
    'pets_obj': dict(config=_PETS, start='source', options=_WITH_OBJ),
    # PETS' claim is about long training (a mean teacher degrades late): both for 3,000
    # iterations (12 epochs, 12 exchanges), validated every 500
    'mt_long': dict(config=_MT, start='source', options=_LONG),
    'pets_long': dict(config=_PETS, start='source', options=_LONG),
    # PETS' exchange ablated: the static teacher stays the source model; or it becomes a copy
    # of the student at each epoch's end (no swap back)
    'pets_frozen': dict(config=_PETS, start='source',
                        options={'custom_hooks.0.mode': 'frozen'}),
    'pets_copy': dict(config=_PETS, start='source', options={'custom_hooks.0.mode': 'copy'}),
    # Grounded Teacher's expert: a larger detector (YOLOX-s widths) trained on the source
    # (a checkpoint every 500 iterations: an interrupted run resumes from it)
    'expert': dict(stage='sup', config='configs/sfod/expert_yolox-s_digitscenes.py', seeds=[0],
                   options={'train_cfg.max_iters': 5000,
                            'default_hooks.checkpoint.interval': 500}),
    # Grounded Teacher, and each part ablated
    'gt': dict(config=_GT, start='source', options=_EXPERT_FILE),
    'gt_no_rcm': dict(config=_GT, start='source', options=dict(
        _EXPERT_FILE, **{'model.semi_train_cfg.relational_context': None})),
    'gt_no_sal': dict(config=_GT, start='source', options=dict(
        _EXPERT_FILE, **{'model.semi_train_cfg.relational_context.reweight': False})),
    'gt_no_sa': dict(config=_GT, start='source', options=dict(
        _EXPERT_FILE, **{'model.semi_train_cfg.semantic_augmentation': None})),
    'gt_no_expert': dict(config=_GT, start='source',
                         options={'model.semi_train_cfg.expert': None}),
}
table = dict(metric='coco/bbox_mAP', headroom_metric='coco/bbox_mAP', digits=3,
             models=['teacher', 'student'], baseline='source_only', full='oracle', peak=True,
             extra=['coco/bbox_mAP_50', 'coco/rare_mAP'] +
             [f'coco/fog{s}_bbox_mAP' for s in (1, 2, 3, 4, 5)],
             extra_models=['teacher'],
             pseudo=['pseudo/boxes_per_img', 'pseudo/precision', 'pseudo/recall'])
