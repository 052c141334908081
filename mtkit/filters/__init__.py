from .base import FilterChain, PseudoLabelFilter, build_filter
from .class_quantile import ClassQuantileThreshold, class_quantiles
from .consensus import (ConsensusFilter, box_iou, combine_scores, consensus_boxes,
                        consensus_dense)
from .gmm import fit_gmm2, gmm_thresholds, push_scores
from .gmm_threshold import GMMThreshold
from .min_box_size import MinBoxSize, min_box_size_mask
from .nms import NMSFilter, nms_mask
from .score_sum_topk import ScoreSumTopK, score_sum_topk_mask
from .score_threshold import ScoreThreshold, score_threshold_mask

__all__ = ['FilterChain', 'PseudoLabelFilter', 'build_filter', 'ClassQuantileThreshold',
           'class_quantiles', 'ConsensusFilter', 'box_iou',
           'combine_scores', 'consensus_boxes', 'consensus_dense', 'fit_gmm2',
           'gmm_thresholds', 'push_scores', 'GMMThreshold', 'MinBoxSize', 'min_box_size_mask',
           'NMSFilter', 'nms_mask', 'ScoreSumTopK', 'score_sum_topk_mask', 'ScoreThreshold',
           'score_threshold_mask']
