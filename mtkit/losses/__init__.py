from .ramps import RAMPS, ramp_weight

__all__ = ['RAMPS', 'ramp_weight']
