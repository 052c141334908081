"""Test-time adaptation: corruption streams, the classifier and segmentor wrappers, and the
online methods (:mod:`mtkit.tta.methods`) with their stream runner (:mod:`mtkit.tta.runner`)."""
from .classifier import ClsSample, PackClsInputs, SmallResNet, TTAImageClassifier
from .corruptions import CORRUPTIONS, corrupt, fog, glass_blur, impulse_noise, plasma_fractal
from .segmentor import TTASegmentor

__all__ = ['ClsSample', 'PackClsInputs', 'SmallResNet', 'TTAImageClassifier', 'TTASegmentor',
           'CORRUPTIONS', 'corrupt', 'fog', 'glass_blur', 'impulse_noise', 'plasma_fractal']
