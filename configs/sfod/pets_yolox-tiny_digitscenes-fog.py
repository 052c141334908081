# Source-free domain adaptation, PETS (periodically exchanged teacher-student): a dynamic EMA
# teacher and a static teacher, both from the source model. At every epoch's end the student
# and the static teacher swap weights (mtkit.PeriodicExchangeHook); the pseudo labels are the
# two teachers' consensus (same class, IoU >= 0.5, boxes fused with their scores as weights);
# the dynamic teacher predicts. Same data, schedule and filters as the mean teacher config.
#   python tools/train.py configs/sfod/pets_yolox-tiny_digitscenes-fog.py \
#       --cfg-options load_from=work_dirs/sfod/source_s0/iter_5000.pth
# Ablations: --cfg-options custom_hooks.0.mode=frozen (the static teacher stays the source
# model) or custom_hooks.0.mode=copy (student -> static teacher copied, not swapped).
_base_ = ['./mt_yolox-tiny_digitscenes-fog.py']
model = dict(
    num_teachers=2,
    semi_train_cfg=dict(pseudo_filters=[
        dict(type='ConsensusFilter', iou_thr=0.5, score_rule='mean', box_rule='weighted'),
        dict(type='ScoreThreshold', thr=0.5),
        dict(type='MinBoxSize', min_size=2),
    ]),
    semi_test_cfg=dict(predict_on='teacher'))   # the dynamic teacher
custom_hooks = [
    # interval None: one epoch of the target set (250 iterations here)
    dict(type='mtkit.PeriodicExchangeHook', momentum=0.004, interval=None, mode='swap'),
    dict(type='mtkit.PseudoLabelDiagnosticsHook', interval=50),
    dict(type='CheckInvalidLossHook', interval=50),
]
