"""Pure helpers of the teacher-student models (:mod:`mtkit.models.teacher_student`): teacher
names, the consensus partner, plain checkpoints filling every model, finiteness checks."""
from typing import Iterable, Sequence, Tuple, Union

import torch
from torch import Tensor

from ..utils.errors import ConfigKeyError


def teacher_names(num_teachers: int) -> Tuple[str, ...]:
    """``('teacher', 'teacher2', 'teacher3', ...)``: the attribute names of ``num_teachers``
    teachers (mmdet's SemiBaseDetector already calls the first one ``teacher``)."""
    if num_teachers < 1:
        raise ConfigKeyError(f'num_teachers must be >= 1, got {num_teachers}')
    return ('teacher', ) + tuple(f'teacher{i}' for i in range(2, num_teachers + 1))


def consensus_partner(active: str) -> str:
    """The teacher whose predictions a consensus filter compares with the active one's."""
    return 'teacher2' if active == 'teacher' else 'teacher'


def spread_plain_state_dict(state_dict: dict, prefix: str, names: Sequence[str]) -> None:
    """In place: when none of the keys under ``prefix`` belongs to one of the submodules
    ``names`` (a plain model's checkpoint, e.g. a supervised run's ``load_from``), each key
    ``prefix + k`` is replaced by ``prefix + name + '.' + k`` for every name, so the checkpoint
    fills the student and every teacher. A wrapper's own checkpoint is left as it is."""
    own = [k for k in state_dict if k.startswith(prefix)]
    if not own or any(k[len(prefix):].split('.', 1)[0] in names for k in own):
        return
    for k in own:
        value = state_dict.pop(k)
        for name in names:
            state_dict[f'{prefix}{name}.{k[len(prefix):]}'] = value


def check_finite_state_dict(state_dict: dict, prefix: str, owner: str) -> None:
    """Refuse a checkpoint with NaN / inf in any floating-point tensor under ``prefix``:
    :class:`FloatingPointError` naming ``owner``, the tensor and how many of its values are
    not finite. (An EMA teacher that loads a NaN weight stays NaN forever and silently stops
    making pseudo labels.) Run once per load, never in the training loop."""
    for key, value in state_dict.items():
        if not key.startswith(prefix) or not torch.is_tensor(value) \
                or not value.is_floating_point():
            continue
        bad = ~torch.isfinite(value)
        if bool(bad.any()):
            raise FloatingPointError(
                f'{owner}: the checkpoint\'s tensor {key[len(prefix):]!r} has '
                f'{int(bad.sum())} NaN/inf value(s) of {value.numel()}; refusing to load it '
                f'(resume or load_from an earlier checkpoint)')


def check_finite(t: Union[Tensor, Iterable[Tensor]], what: str, it: int) -> None:
    """Stop on NaN / inf in ``t`` (a tensor, or several: one check for all) with a message
    naming ``what`` and the iteration ``it``.

    On CPU this raises :class:`FloatingPointError` at once. On an accelerator it queues a
    device-side assertion (``torch._assert_async``), so the check never waits for the device;
    a failure then surfaces at the next synchronisation as a device assertion with the message.
    """
    tensors = [t] if torch.is_tensor(t) else [x for x in t if x.is_floating_point()]
    if not tensors:
        return
    msg = (f'{what} at iteration {it} has NaN/inf values; the model diverged (lower the '
           f'learning rate, check the data) -- nothing is trained on non-finite values')
    ok = torch.stack([torch.isfinite(x).all() for x in tensors]).all()
    if tensors[0].device.type == 'cpu':
        if not bool(ok):
            raise FloatingPointError(msg)
    else:
        torch._assert_async(ok, msg)
