# Source-free domain adaptation, Grounded Teacher: the mean teacher of
# mt_yolox-tiny_digitscenes-fog.py plus
#   - the relational context module: the class-relation matrix of the student's predictions
#     against the pseudo labels (EMA, checkpointed, logged as rcm_diag_mean; plot it with
#     python tools/plot_relation.py CHECKPOINT);
#   - the semantic-aware loss: each positive location's classification loss weighted by it;
#   - semantic augmentation: crops of the classes confused with a box's class mixed into it;
#   - the expert branch: a stronger detector's boxes supervise the student too (expert_*). Its
#     boxes on the target train split, written once:
#       python tools/expert_predictions.py EXPERT_CONFIG EXPERT_CHECKPOINT \
#           --ann-file data/digitscenes_fog/coco/annotations/instances_train-unlabeled.json \
#           --img-dir data/digitscenes_fog/coco/train --out work_dirs/sfod/expert_train.json
#     (or expert=dict(config=..., checkpoint=...) to run it online).
# Ablations: relational_context=None (no RCM: mixing classes drawn uniformly, no SAL),
# relational_context.reweight=False (no SAL), semantic_augmentation=None, expert=None.
_base_ = ['./mt_yolox-tiny_digitscenes-fog.py']
model = dict(
    semi_train_cfg=dict(
        relational_context=dict(alpha=0.99, reweight=True, reg=1.0, variant='pair'),
        semantic_augmentation=dict(prob=0.5, bank_thr=0.8, bank_size=50, beta=0.5,
                                   min_size=4),
        expert=dict(predictions='work_dirs/sfod/expert_train.json', score_thr=0.5,
                    min_size=2.0, weight=1.0)))
