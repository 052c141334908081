"""Data preprocessor for clip batches: clips of frames -> one normalised batch of frames."""
from typing import List, Optional, Sequence

import torch
from mmengine.model import BaseDataPreprocessor

from ...registry import MODELS, register
from ...utils.errors import ConfigKeyError


@register(MODELS)
class ClipSegDataPreProcessor(BaseDataPreprocessor):
    """Stack a batch of ``B`` clips of ``T`` frames, each (T, 3, H, W) uint8, into one
    (B * T, 3, H, W) float batch, clip after clip, normalised (and BGR -> RGB). The data samples
    stay one per clip. Batches whose ``inputs`` / ``data_samples`` are dicts of branches
    (semi-supervised training: ``sup``, ``unsup``) are processed branch by branch.

    Args:
        mean, std: Per-channel normalisation (after the channel flip).
        bgr_to_rgb: Flip BGR frames (as loaded by OpenCV) to RGB.
    """

    def __init__(self, mean: Sequence[float] = (123.675, 116.28, 103.53),
                 std: Sequence[float] = (58.395, 57.12, 57.375), bgr_to_rgb: bool = True
                 ) -> None:
        super().__init__()
        self.register_buffer('mean', torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1),
                             persistent=False)
        self.register_buffer('std', torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1),
                             persistent=False)
        self.bgr_to_rgb = bgr_to_rgb

    def _frames(self, clips: List[torch.Tensor], where: str) -> torch.Tensor:
        shapes = {tuple(c.shape) for c in clips}
        if len(shapes) != 1 or len(next(iter(shapes))) != 4:
            raise ConfigKeyError(f'ClipSegDataPreProcessor: the {where} clips must all be '
                                 f'(T, 3, H, W) of one shape (crop them to one size), got '
                                 f'{sorted(shapes)}')
        x = torch.stack(clips).to(self.device)
        b, t, c, h, w = x.shape
        x = x.view(b * t, c, h, w).float()
        if self.bgr_to_rgb:
            x = x.flip(1)
        return (x - self.mean) / self.std

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)
        inputs, samples = data['inputs'], data.get('data_samples')
        if isinstance(inputs, dict):
            return dict(inputs={k: self._frames(list(v), k) for k, v in inputs.items()},
                        data_samples=samples)
        return dict(inputs=self._frames(list(inputs), 'batch'), data_samples=samples)


def clip_labels(samples: Optional[list], device) -> torch.Tensor:
    """(B * T, H, W) label maps of a batch of clip samples (``gt_sem_seg`` (T, H, W) each)."""
    if not samples or any('gt_sem_seg' not in s for s in samples):
        raise ConfigKeyError('clip_labels: every labeled clip needs gt_sem_seg (load it with '
                             'mtkit.LoadClip and a ClipSegDataset with with_labels=True)')
    return torch.cat([s.gt_sem_seg.data for s in samples]).to(device).long()
