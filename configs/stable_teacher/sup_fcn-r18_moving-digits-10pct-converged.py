# Supervised continued from the converged start, the baseline of the other *-converged configs:
# its student is "supervised continued" and its teacher "supervised + EMA". Step 1 of the
# protocol (model_zoo/README.md) trains ./sup_fcn-r18_moving-digits-10pct.py to its plateau
# (8,000 iterations) into work_dirs/video_converged/plateau_s0; this config starts student and
# teacher from that checkpoint (a plain per-frame segmentor checkpoint fills both as well) and
# trains 1,000 more iterations.
_base_ = ['./sup_fcn-r18_moving-digits-10pct.py']
load_from = 'work_dirs/video_converged/plateau_s0/iter_8000.pth'
train_cfg = dict(max_iters=1000, val_interval=250)
