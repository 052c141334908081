"""An mmseg segmentor seen through the interface of the test-time methods.

The methods of :mod:`mtkit.tta.methods` read a model as ``extract_feat(x) -> features`` and
``head(features) -> logits``. For a classifier the features are pooled (N, D); for a segmentor
they are the decode head's last feature map (N, D, h, w) (the input of its ``conv_seg``) and the
logits are (N, C, h, w) at that resolution. ``dense = True`` tells the methods to augment
photometrically only (pixels must stay aligned), to sample pixels for RMT's contrastive loss
and to compare per pixel.
"""
from typing import List

import torch.nn.functional as F
from torch import Tensor, nn


class TTASegmentor(nn.Module):
    """Wrap an mmseg ``EncoderDecoder`` (backbone [+ neck] + decode head) for test-time
    adaptation. Auxiliary heads are not used: the decode head alone predicts.

    Args:
        segmentor: A built mmseg segmentor with ``extract_feat`` and ``decode_head``.
    """

    dense = True

    def __init__(self, segmentor: nn.Module) -> None:
        super().__init__()
        head = getattr(segmentor, 'decode_head', None)
        if head is None or not hasattr(segmentor, 'extract_feat'):
            raise TypeError(f'TTASegmentor needs an mmseg EncoderDecoder (extract_feat + '
                            f'decode_head); got {type(segmentor).__name__}')
        if not hasattr(head, 'cls_seg'):
            raise TypeError(f'TTASegmentor: decode head {type(head).__name__} has no cls_seg; '
                            f'only heads built on mmseg BaseDecodeHead are supported')
        self.segmentor = segmentor
        self.num_classes: int = head.num_classes
        self.feat_dim: int = head.channels
        self.ignore_index: int = head.ignore_index
        self.align_corners: bool = head.align_corners

    @property
    def data_preprocessor(self) -> nn.Module:
        return self.segmentor.data_preprocessor

    def extract_feat(self, inputs: Tensor) -> Tensor:
        """(N, D, h, w): the decode head's features before its classifier."""
        feats: List[Tensor] = self.segmentor.extract_feat(inputs)
        head = self.segmentor.decode_head
        # mmseg's decode heads end their forward with self.cls_seg: run it with the classifier
        # bypassed. (Their _forward_feature is not enough: DepthwiseSeparableASPPHead inherits
        # ASPPHead's, which skips its low-level fusion.)
        head.cls_seg = _identity
        try:
            return head(feats)
        finally:
            del head.cls_seg

    def head(self, feats: Tensor) -> Tensor:
        """(N, C, h, w) logits at the feature resolution (dropout, then ``conv_seg``)."""
        return self.segmentor.decode_head.cls_seg(feats)

    def upsample(self, logits: Tensor, size) -> Tensor:
        """Logits resized to the label size, as mmseg does before its loss and prediction."""
        if tuple(logits.shape[-2:]) == tuple(size):
            return logits
        return F.interpolate(logits, size=size, mode='bilinear',
                             align_corners=self.align_corners)


def _identity(x: Tensor) -> Tensor:
    return x
