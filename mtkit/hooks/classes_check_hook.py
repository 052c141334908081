"""Compare the datasets' classes with the model's heads before anything runs."""
from mmengine.hooks import Hook
from mmengine.runner import BaseLoop

from ..datasets.image_keys import leaves
from ..registry import HOOKS, register
from ..utils.classes import check_class_names, check_classes, head_num_classes
from .teacher_student import unwrap_model


@register(HOOKS)
class ClassesCheckHook(Hook):
    """Before the run (after the Runner has built the model and the loops of the command:
    train and val, or test), raise :class:`~mtkit.utils.errors.ConfigKeyError` when a
    dataset's ``metainfo['classes']`` has another length than the ``num_classes`` of a
    classifying head of the model (:func:`~mtkit.utils.classes.head_num_classes`), naming the
    dataset, its classes and the head; and when a class list the model holds
    (``model.named_class_lists()``, e.g. an expert detector's) names other classes than a
    dataset. mtkit's runtime configs list it in ``default_hooks`` (``classes_check``)."""

    priority = 'VERY_HIGH'

    def before_run(self, runner) -> None:
        model = unwrap_model(runner.model)
        heads = head_num_classes(model)
        if not heads:
            return
        for split in ('train', 'val', 'test'):
            loop = getattr(runner, f'_{split}_loop', None)
            loader = getattr(loop, 'dataloader', None) if isinstance(loop, BaseLoop) else None
            if loader is None:
                continue
            named = getattr(model, 'named_class_lists', None)
            named = named() if callable(named) else {}
            for leaf in leaves(loader.dataset):
                meta = getattr(leaf, 'metainfo', None) or {}
                where = f'{split}_dataloader dataset {getattr(leaf, "ann_file", "") or ""!r}'
                check_classes(meta.get('classes'), heads, where)
                check_class_names(meta.get('classes'), named, where)
