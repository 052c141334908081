# Dual Teacher with consensus of its two temporary teachers for detection: a box of the active
# teacher (score >= 0.5) is a pseudo label when the resting one (frozen at the end of its last
# turn, so the pair differs by a turn of training) finds it too (same class, IoU >= 0.5, score
# >= 0.5). Everything else is ./dt_yolox-tiny_digitscenes-10pct-converged.py.
_base_ = ['./dt_yolox-tiny_digitscenes-10pct-converged.py']
model = dict(
    semi_train_cfg=dict(pseudo_filters=[
        dict(type='ScoreThreshold', thr=0.5),
        dict(type='ConsensusFilter', iou_thr=0.5, score_rule='mean', second_thr=0.5),
        dict(type='MinBoxSize', min_size=2),
    ]))
