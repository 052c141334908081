"""A small image classifier as an MMEngine model, for test-time adaptation benchmarks.

mmpretrain is not part of mtkit's stack, so this module brings the minimum: a ResNet-style CNN
for 32 x 32 inputs (:class:`SmallResNet`), a wrapper that gives any such backbone + linear head
MMEngine's ``loss`` / ``predict`` / ``tensor`` modes (:class:`TTAImageClassifier`), a data
sample type (:class:`ClsSample`) and the packing transform (:class:`PackClsInputs`).
"""
from typing import List, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from mmcv.transforms import BaseTransform
from mmengine.model import BaseModel
from mmengine.structures import BaseDataElement
from torch import Tensor, nn

from ..registry import MODELS, TRANSFORMS, register


class ClsSample(BaseDataElement):
    """Data sample of one image: ``gt_label`` (LongTensor ()), and after prediction
    ``pred_label`` and ``pred_score`` (C,)."""


@register(TRANSFORMS)
class PackClsInputs(BaseTransform):
    """``img`` (H, W, 3) -> ``inputs`` (3, H, W) uint8 tensor; ``gt_label`` -> a ClsSample."""

    def transform(self, results: dict) -> dict:
        img = np.ascontiguousarray(results['img'].transpose(2, 0, 1))
        sample = ClsSample(metainfo=dict(img_path=results.get('img_path'),
                                         ori_shape=results.get('ori_shape'),
                                         domain=results.get('domain')))
        if 'gt_label' in results:
            sample.gt_label = torch.as_tensor(results['gt_label'], dtype=torch.long)
        return dict(inputs=torch.from_numpy(img), data_samples=sample)


class _Block(nn.Module):

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                       nn.BatchNorm2d(cout))

    def forward(self, x: Tensor) -> Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.short is None else self.short(x)))


@register(MODELS)
class SmallResNet(nn.Module):
    """ResNet for small images: a 3x3 stem and one basic block per stage.

    Args:
        widths: Channels of the stages; every stage after the first halves the resolution.
    """

    def __init__(self, widths: Sequence[int] = (32, 64, 128)) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, widths[0], 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True))
        blocks, cin = [], widths[0]
        for i, w in enumerate(widths):
            blocks.append(_Block(cin, w, 1 if i == 0 else 2))
            cin = w
        self.blocks = nn.Sequential(*blocks)
        self.out_channels = cin

    def forward(self, x: Tensor) -> Tensor:
        """(N, out_channels) pooled features."""
        return self.blocks(self.stem(x)).mean((2, 3))


@register(MODELS)
class TTAImageClassifier(BaseModel):
    """Backbone (pooled features) + linear head, with MMEngine's three modes.

    ``extract_feat`` and ``head`` are separate so that test-time methods can align features
    (RMT's contrastive loss) and read logits.

    Args:
        backbone: Config of a module mapping images to (N, D) features (e.g. SmallResNet).
        num_classes: Classes of the head.
        data_preprocessor: MMEngine preprocessor config (normalisation, BGR->RGB).
    """

    def __init__(self, backbone: dict, num_classes: int,
                 data_preprocessor: Optional[dict] = None, init_cfg=None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.head = nn.Linear(self.backbone.out_channels, num_classes)
        self.num_classes = num_classes

    @property
    def feat_dim(self) -> int:
        """D of the (N, D) features (what RMT's projector takes)."""
        return self.backbone.out_channels

    def extract_feat(self, inputs: Tensor) -> Tensor:
        return self.backbone(inputs)

    def forward(self, inputs: Tensor, data_samples: Optional[List[ClsSample]] = None,
                mode: str = 'tensor'):
        logits = self.head(self.extract_feat(inputs))
        if mode == 'tensor':
            return logits
        if mode == 'loss':
            labels = torch.stack([s.gt_label for s in data_samples]).to(logits.device)
            return dict(loss_cls=F.cross_entropy(logits, labels),
                        acc=(logits.argmax(1) == labels).float().mean().detach())
        if mode == 'predict':
            return self.to_samples(logits, data_samples)
        raise RuntimeError(f'Invalid mode "{mode}"')

    @staticmethod
    def to_samples(logits: Tensor, data_samples: Optional[List[ClsSample]]) -> List[ClsSample]:
        scores = logits.softmax(1)
        samples = data_samples or [ClsSample() for _ in range(len(logits))]
        for s, score in zip(samples, scores):
            s.pred_score = score
            s.pred_label = score.argmax()
        return samples
