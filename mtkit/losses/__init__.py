from .pixel import WEIGHTINGS, pseudo_label_ce
from .ramps import RAMPS, ramp_weight

__all__ = ['RAMPS', 'WEIGHTINGS', 'pseudo_label_ce', 'ramp_weight']
