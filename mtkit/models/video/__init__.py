"""Dense video (clip) models: Stable Mean Teacher's Error Recovery module."""
from .eor import ErrorRecoveryUNet, eor_loss, refine

__all__ = ['ErrorRecoveryUNet', 'eor_loss', 'refine']
