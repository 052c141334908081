"""Test-time adaptation: corruption streams and (later) online adaptation methods."""
from .classifier import ClsSample, PackClsInputs, SmallResNet, TTAImageClassifier
from .corruptions import CORRUPTIONS, corrupt, fog, glass_blur, impulse_noise, plasma_fractal

__all__ = ["ClsSample", "PackClsInputs", "SmallResNet", "TTAImageClassifier", "CORRUPTIONS", "corrupt", "fog", "glass_blur", "impulse_noise", "plasma_fractal"]
