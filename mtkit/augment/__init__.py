from .mix import MIX_MODES, apply_mix, classmix_masks, cutmix_masks, mix_masks

__all__ = ['MIX_MODES', 'apply_mix', 'classmix_masks', 'cutmix_masks', 'mix_masks']
