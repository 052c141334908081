"""Does a checkpoint fit a model? The keys and shapes a load would miss, drop or refuse.

MMEngine loads ``load_from`` with ``strict=False`` and only logs "do not match exactly" when
the checkpoint belongs to another model, so ``tools/test.py`` with the wrong checkpoint reports
the metric of random weights with exit code 0.
"""
import re
from collections import OrderedDict
from typing import Dict, List, Tuple

from torch import nn

from .errors import ConfigKeyError


def load_and_compare(model: nn.Module,
                     state_dict: Dict) -> Tuple[List[str], List[str], List[str]]:
    """Load ``state_dict`` into ``model`` as ``load_state_dict(strict=False)`` would, through
    every module's own ``_load_from_state_dict`` (so the wrappers' remapping of a plain
    detector / segmentor checkpoint applies), and return ``(missing, unexpected, mismatched)``:
    the model's keys the checkpoint lacks, the checkpoint's keys the model lacks, and one line
    per tensor whose shape differs (left unloaded). ``state_dict`` itself is not changed."""
    metadata = getattr(state_dict, '_metadata', None)
    state_dict = OrderedDict(state_dict)
    if metadata is not None:
        state_dict._metadata = metadata
    missing: List[str] = []
    unexpected: List[str] = []
    errors: List[str] = []

    def load(module: nn.Module, prefix: str = '') -> None:
        local = {} if metadata is None else metadata.get(prefix[:-1], {})
        # strict=True only makes torch list the unexpected keys; size mismatches land in errors
        module._load_from_state_dict(state_dict, prefix, local, True, missing, unexpected,
                                     errors)
        for name, child in module._modules.items():
            if child is not None:
                load(child, f'{prefix}{name}.')

    load(model)
    return missing, unexpected, errors


def unused_keys(state_dict: Dict, unexpected: List[str]) -> List[str]:
    """The keys of ``state_dict`` behind ``unexpected``: a wrapper that spreads a plain
    checkpoint over its models reports ``student.k`` and ``teacher.k`` for one unused ``k``."""
    unexpected_set = set(unexpected)
    suffixes = {u.split('.', i)[-1] for u in unexpected for i in range(1, u.count('.') + 1)}
    return [k for k in state_dict if k in unexpected_set or k in suffixes]


def check_checkpoint_fits(model: nn.Module, checkpoint: Dict, name: str) -> None:
    """Load ``checkpoint`` (a dict with ``state_dict``, or a state dict) into ``model`` and
    raise :class:`ConfigKeyError` naming the checkpoint ``name`` when a key is missing on
    either side or a shape differs: counts and examples of each."""
    state_dict = checkpoint.get('state_dict', checkpoint)
    state_dict = OrderedDict((re.sub(r'^module\.', '', k), v) for k, v in state_dict.items())
    missing, unexpected, mismatched = load_and_compare(model, state_dict)
    if not (missing or unexpected or mismatched):
        return
    total = len(model.state_dict())
    parts = []
    if missing:
        parts.append(f'{len(missing)} of the model\'s {total} tensors are not in the '
                     f'checkpoint (e.g. {missing[:3]})')
    unused = unused_keys(state_dict, unexpected)
    if unused:
        parts.append(f'{len(unused)} of its {len(state_dict)} tensors are not in the '
                     f'model (e.g. {unused[:3]})')
    if mismatched:
        parts.append(f'{len(mismatched)} have another shape (e.g. {mismatched[0].strip()})')
    raise ConfigKeyError(f'checkpoint {name} does not fit the model of the config: '
                         + '; '.join(parts) + '. It was saved from another model (or config); '
                         'evaluating it would report the metric of partly random weights. '
                         'Give the matching checkpoint, or --allow-partial-load to evaluate '
                         'anyway')
