"""Error Recovery (EoR) module of Stable Mean Teacher (Kumar et al., AAAI 2025): a light U-Net
that takes a clip's per-pixel class probabilities and predicts corrected ones.

It is trained on labeled clips only, from the student's detached probabilities, against the
ground truth (cross-entropy + Dice, :func:`eor_loss`); its EMA copy refines the teacher's
probabilities into the pseudo labels of unlabeled clips. It is not used at test time.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...losses.temporal import dice_loss
from ...registry import MODELS, register


def _block(cin: int, cout: int, temporal: bool) -> nn.Sequential:
    conv = nn.Conv3d if temporal else nn.Conv2d
    return nn.Sequential(conv(cin, cout, 3, padding=1), nn.GroupNorm(min(8, cout), cout),
                         nn.ReLU(inplace=True), conv(cout, cout, 3, padding=1),
                         nn.GroupNorm(min(8, cout), cout), nn.ReLU(inplace=True))


@register(MODELS)
class ErrorRecoveryUNet(nn.Module):
    """Two-level U-Net on probabilities, residual on their logarithm.

    Input (B, T, C, H, W) probabilities; output (B, T, C, H, W) logits
    ``log p + U(p)``. The last convolution starts at zero, so an untrained module returns the
    input distribution unchanged (refined = teacher), and learning moves it away only as far as
    the labeled clips justify.

    Args:
        num_classes: C.
        channels: Width of the first level (the second has twice as many).
        temporal: 3D convolutions over (T, H, W) (default), so a correction can use the
            neighbouring frames; 2D per frame when False. Pooling is spatial only.
    """

    def __init__(self, num_classes: int, channels: int = 16, temporal: bool = True) -> None:
        super().__init__()
        self.num_classes, self.temporal = num_classes, temporal
        conv = nn.Conv3d if temporal else nn.Conv2d
        self.enc1 = _block(num_classes, channels, temporal)
        self.enc2 = _block(channels, 2 * channels, temporal)
        self.dec1 = _block(3 * channels, channels, temporal)
        self.out = conv(channels, num_classes, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, probs: Tensor) -> Tensor:
        if probs.dim() != 5 or probs.shape[2] != self.num_classes:
            raise ValueError(f'ErrorRecoveryUNet: expected (B, T, {self.num_classes}, H, W) '
                             f'probabilities, got {tuple(probs.shape)}')
        b, t, c, h, w = probs.shape
        if self.temporal:
            x = probs.permute(0, 2, 1, 3, 4)  # (B, C, T, H, W)
            pool = (1, 2, 2)
        else:
            x = probs.reshape(b * t, c, h, w)
            pool = 2
        e1 = self.enc1(x)
        down = F.max_pool3d(e1, pool, ceil_mode=True) if self.temporal else F.max_pool2d(
            e1, pool, ceil_mode=True)
        e2 = self.enc2(down)
        up = F.interpolate(e2, size=e1.shape[2:], mode='nearest')
        delta = self.out(self.dec1(torch.cat([e1, up], 1)))
        if self.temporal:
            delta = delta.permute(0, 2, 1, 3, 4)
        else:
            delta = delta.reshape(b, t, c, h, w)
        return probs.clamp_min(1e-6).log() + delta


def eor_loss(logits: Tensor, labels: Tensor, ignore_index: int = 255,
             dice_weight: float = 1.0) -> Tensor:
    """CE + Dice of refined (B, T, C, H, W) logits against (B, T, H, W) labels, ignoring
    ``ignore_index`` pixels (multi-class form of the paper's BCE + Dice)."""
    b, t, c, h, w = logits.shape
    if labels.shape != (b, t, h, w):
        raise ValueError(f'eor_loss: labels {tuple(labels.shape)} do not match logits '
                         f'{tuple(logits.shape)}')
    flat = logits.reshape(b * t, c, h, w)
    lab = labels.reshape(b * t, h, w)
    ce = F.cross_entropy(flat, lab, ignore_index=ignore_index)
    valid = (lab != ignore_index)
    onehot = F.one_hot(lab.clamp(0, c - 1) * valid, c).permute(0, 3, 1, 2).float()
    dice = dice_loss(flat.softmax(1), onehot, valid=valid[:, None].float())
    return ce + dice_weight * dice


def eor_ce_gain(probs: Tensor, eor_logits: Tensor, labels: Tensor,
                ignore_index: int = 255) -> Tensor:
    """Cross-entropy of (B, T, C, H, W) probabilities minus that of the EoR's refined logits
    of them, against (B, T, H, W) labels: positive when the refinement helps. Both use the
    ``1e-6`` floor of :class:`ErrorRecoveryUNet`, so an identity refinement gives 0 (to about
    ``C * 1e-6``)."""
    c = probs.shape[2]
    lab = labels.reshape(-1, *labels.shape[2:])
    before = F.nll_loss(probs.reshape(-1, c, *probs.shape[3:]).clamp_min(1e-6).log(), lab,
                        ignore_index=ignore_index)
    after = F.cross_entropy(eor_logits.reshape(-1, c, *eor_logits.shape[3:]), lab,
                            ignore_index=ignore_index)
    return before - after


def refine(eor: Optional[nn.Module], probs: Tensor) -> Tensor:
    """Refined probabilities of (B, T, C, H, W) ``probs`` (the input when ``eor`` is None)."""
    return probs if eor is None else eor(probs).softmax(2)
