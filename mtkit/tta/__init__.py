"""Test-time adaptation: the classifier and segmentor wrappers, and the online methods
(:mod:`mtkit.tta.methods`) with their stream loop (:mod:`mtkit.tta.stream`;
:mod:`mtkit.tta.runner` builds a run from a config)."""
from .classifier import ClsSample, PackClsInputs, SmallResNet, TTAImageClassifier
from .segmentor import TTASegmentor

__all__ = ['ClsSample', 'PackClsInputs', 'SmallResNet', 'TTAImageClassifier', 'TTASegmentor']
