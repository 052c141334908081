"""Batch every branch of a semi-supervised segmentation batch with one inner preprocessor."""
from mmengine.model import BaseDataPreprocessor
from torch import nn

from ...registry import MODELS, register


@register(MODELS)
class MultiBranchSegDataPreProcessor(BaseDataPreprocessor):
    """Apply a segmentor's data preprocessor (e.g. mmseg's ``SegDataPreProcessor``) to each
    branch of a batch whose ``inputs`` / ``data_samples`` are dicts of branches (``sup``,
    ``weak``, ``strong``); plain batches (validation, test) pass straight through.

    Each branch is normalised, stacked and padded on its own, so images of the weak and strong
    views of one unlabeled image get the same padding and stay aligned.

    Args:
        data_preprocessor: Config of the inner preprocessor.
    """

    def __init__(self, data_preprocessor: dict) -> None:
        super().__init__()
        self.data_preprocessor = MODELS.build(data_preprocessor)

    def forward(self, data: dict, training: bool = False) -> dict:
        if not isinstance(data.get('inputs'), dict):
            return self.data_preprocessor(data, training)
        inputs, samples = {}, {}
        for branch, branch_inputs in data['inputs'].items():
            out = self.data_preprocessor(
                dict(inputs=branch_inputs, data_samples=data['data_samples'][branch]), training)
            inputs[branch], samples[branch] = out['inputs'], out['data_samples']
        return dict(inputs=inputs, data_samples=samples)

    # the inner preprocessor moves the data: keep its device in step with ours
    def to(self, *args, **kwargs) -> nn.Module:
        self.data_preprocessor.to(*args, **kwargs)
        return super().to(*args, **kwargs)

    def cuda(self, *args, **kwargs) -> nn.Module:
        self.data_preprocessor.cuda(*args, **kwargs)
        return super().cuda(*args, **kwargs)

    def cpu(self, *args, **kwargs) -> nn.Module:
        self.data_preprocessor.cpu(*args, **kwargs)
        return super().cpu(*args, **kwargs)
