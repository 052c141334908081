"""One spelling per image file, to compare the images of datasets (split overlap checks)."""
import os.path as osp
from typing import Iterable, List, Set

from ..utils.errors import ConfigKeyError


def image_key(path: str) -> str:
    """One spelling per image file: absolute, normalised (``a/./b.png`` and ``a//b.png`` are
    ``a/b.png``)."""
    return osp.normpath(osp.abspath(str(path)))


def leaves(dataset) -> List:
    """The datasets that hold the data lists under (nested) dataset wrappers: ConcatDataset's
    ``datasets``, RepeatDataset's / ClassBalancedDataset's ``dataset``, the paired datasets'
    ``labeled`` and ``unlabeled``."""
    inner = getattr(dataset, 'datasets', None)
    if inner is None:
        inner = [getattr(dataset, name) for name in ('dataset', 'labeled', 'unlabeled')
                 if getattr(dataset, name, None) is not None]
    if not inner:
        return [dataset]
    return [leaf for d in inner for leaf in leaves(d)]


def image_keys(dataset) -> Set[str]:
    """:func:`image_key` of every image of ``dataset`` (all its leaves)."""
    out = set()
    for leaf in leaves(dataset):
        out.update(image_key(leaf.get_data_info(i)['img_path']) for i in range(len(leaf)))
    return out


def overlap_error(what: str, a_name: str, b_name: str, both: Iterable[str],
                  hint: str) -> ConfigKeyError:
    both = sorted(both)
    return ConfigKeyError(f'{what}: {len(both)} image(s) are in both {a_name} and {b_name} '
                          f'(e.g. {both[:3]}); the labeled and unlabeled splits must be '
                          f'disjoint ({hint})')


class ChecksAfterLoading:
    """Mixin of a dataset that checks what it loaded: ``full_init`` runs the base's once (it is
    called when built unless ``lazy_init``), then :meth:`check_loaded`."""

    def full_init(self) -> None:
        if self._fully_initialized:
            return
        super().full_init()
        self.check_loaded()

    def check_loaded(self) -> None:
        raise NotImplementedError
