from .pixel import WEIGHTINGS, pseudo_label_ce
from .ramps import RAMPS, ramp_weight
from .temporal import dice_loss, dop_loss, dop_term, temporal_difference

__all__ = ['RAMPS', 'WEIGHTINGS', 'dice_loss', 'dop_loss', 'dop_term', 'pseudo_label_ce',
           'ramp_weight', 'temporal_difference']
