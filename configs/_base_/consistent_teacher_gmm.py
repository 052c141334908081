# Consistent-Teacher's pseudo-label filters for the converged-start detection arms: per image
# keep about round(sum of scores) boxes, then a per-class threshold from a 2-component GMM
# fitted to each class's last 100 teacher scores (policy 'high', floor 0.3), then boxes of at
# least 2 px. A config sets model.semi_train_cfg.pseudo_filters=_base_.ct_gmm_filters.
ct_gmm_filters = [
    dict(type='ScoreSumTopK', ratio=1.0),
    dict(type='GMMThreshold', num_classes=10, queue_size=100, policy='high',
         fallback=0.5, min_thr=0.3, nonfinite='error'),
    dict(type='MinBoxSize', min_size=2),
]
