"""Test-time adaptation: corruption streams and (later) online adaptation methods."""
from .corruptions import CORRUPTIONS, corrupt, fog, glass_blur, impulse_noise, plasma_fractal

__all__ = ["CORRUPTIONS", "corrupt", "fog", "glass_blur", "impulse_noise", "plasma_fractal"]
