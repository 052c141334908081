"""Refuse a checkpoint that does not fit the model (``tools/test.py``)."""
from mmengine.hooks import Hook

from ..registry import HOOKS, register
from ..utils.state_match import check_checkpoint_fits
from .teacher_student import unwrap_model


@register(HOOKS)
class CheckpointMatchHook(Hook):
    """When the Runner loads ``load_from``, raise :class:`~mtkit.utils.errors.ConfigKeyError`
    if the checkpoint lacks a tensor of the model, holds one the model lacks, or has another
    shape (MMEngine only logs a warning and goes on with the unloaded tensors at their random
    initialisation). The wrappers' own remapping applies: a plain detector checkpoint fits a
    :class:`~mtkit.MeanTeacherDetector`. ``tools/test.py`` adds it unless
    ``--allow-partial-load`` is given."""

    priority = 'VERY_HIGH'

    def __init__(self, name: str = 'load_from') -> None:
        self.name = name

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        model = unwrap_model(runner.model)
        check_checkpoint_fits(model, checkpoint, self.name)
