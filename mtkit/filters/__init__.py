from .base import FilterChain, PseudoLabelFilter, build_filter
from .min_box_size import MinBoxSize, min_box_size_mask
from .score_threshold import ScoreThreshold, score_threshold_mask

__all__ = ['FilterChain', 'PseudoLabelFilter', 'build_filter', 'MinBoxSize',
           'min_box_size_mask', 'ScoreThreshold', 'score_threshold_mask']
