"""Dense video (clip) models: Stable Mean Teacher's Error Recovery module, the clip data
preprocessor and, with mmsegmentation, the stable mean-teacher segmentor."""
from .clip_preprocessor import ClipSegDataPreProcessor, clip_labels
from .eor import ErrorRecoveryUNet, eor_ce_gain, eor_loss, refine

__all__ = ['ClipSegDataPreProcessor', 'ErrorRecoveryUNet', 'clip_labels', 'eor_ce_gain', 'eor_loss',
           'refine']
