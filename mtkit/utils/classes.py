"""The classes a dataset names against the classes a model's heads predict.

mmdet / mmseg never compare them: a config whose dataset ``metainfo.classes`` lists 3 names
for a 10-class head trains, then fails at the first validation with a bare ``IndexError`` in
the metric (``cat_ids[label]``), or, with more classes than the head, never predicts some.
"""
from typing import Dict, List, Optional, Sequence

from .errors import ConfigKeyError

# the heads whose num_classes must equal the dataset's classes (an RPN head has 1 class)
CLASS_HEADS = ('bbox_head', 'decode_head', 'auxiliary_head')


def head_num_classes(model) -> Dict[str, int]:
    """``{module name: num_classes}`` of every classifying head in ``model``: the modules named
    ``bbox_head`` (mmdet's dense heads and RoI box heads), ``decode_head`` and
    ``auxiliary_head`` (mmseg; also inside a ``ModuleList``), teachers and students alike."""
    out = {}
    for name, module in model.named_modules():
        parts = name.split('.')
        in_list = len(parts) > 1 and parts[-2] in CLASS_HEADS and parts[-1].isdigit()
        named = parts[-1] in CLASS_HEADS or in_list
        n = getattr(module, 'num_classes', None)
        if named and isinstance(n, int):
            out[name] = n
    return out


def check_classes(classes: Optional[Sequence[str]], heads: Dict[str, int], where: str) -> None:
    """Raise :class:`ConfigKeyError` naming the dataset (``where``), its classes and the
    heads when a head's ``num_classes`` differs from ``len(classes)``. Nothing to compare
    (no classes, no head) passes."""
    if not classes or not heads:
        return
    wrong: List[str] = [f'{name}.num_classes={n}' for name, n in heads.items()
                        if n != len(classes)]
    if wrong:
        shown = list(classes) if len(classes) <= 12 else list(classes[:12]) + ['...']
        raise ConfigKeyError(
            f'{where} has {len(classes)} classes {shown} (its metainfo.classes), but the '
            f'model\'s heads have {", ".join(wrong)}. Set the head\'s num_classes in the model '
            f'config (e.g. bbox_head.num_classes or decode_head.num_classes) to '
            f'{len(classes)}, or give the dataset the classes the model was built for')


def check_class_names(classes: Optional[Sequence[str]], named: Dict[str, Sequence[str]],
                      where: str) -> None:
    """Raise :class:`ConfigKeyError` when a class list the model holds (``named``: ``{what:
    class names}``, e.g. an expert's) differs from the dataset's ``classes`` (``where``)."""
    if not classes:
        return
    for what, names in named.items():
        if list(names) != list(classes):
            raise ConfigKeyError(f'{what} has the classes {list(names)}, but {where} has '
                                 f'{list(classes)}; they must be the same names in the same '
                                 f'order')
