"""A labeled and an unlabeled dataset paired item by item: the base of the semi-supervised
datasets (:class:`~mtkit.datasets.SemiSegDataset`, :class:`~mtkit.datasets.SemiClipDataset`)."""
import copy
from typing import Any, Tuple

from torch.utils.data import Dataset

from ..registry import DATASETS
from ..utils.errors import ConfigKeyError


class LabeledUnlabeledPairs(Dataset):
    """Item ``i`` pairs item ``i mod N_lab`` of ``labeled`` with item ``i mod N_unl`` of
    ``unlabeled``; the length is that of the larger one. Subclasses turn the pair
    (:meth:`pair`) into their item.

    Args:
        labeled, unlabeled: Configs (built with the DATASETS registry) or dataset instances.
            Either one being empty is a :class:`ConfigKeyError` naming its annotation file or
            clip list; so are class lists (``metainfo['classes']``) that differ between them.
    """

    def __init__(self, labeled: Any, unlabeled: Any) -> None:
        self.labeled = DATASETS.build(labeled) if isinstance(labeled, dict) else labeled
        self.unlabeled = DATASETS.build(unlabeled) if isinstance(unlabeled, dict) else unlabeled
        for name, ds in (('labeled', self.labeled), ('unlabeled', self.unlabeled)):
            if len(ds) == 0:
                source = (getattr(ds, 'ann_file', None) or getattr(ds, 'clip_list', None)
                          or getattr(ds, 'data_root', None))
                raise ConfigKeyError(f'{type(self).__name__}: the {name} dataset is empty '
                                     f'({source!r})')
        # e.g. domain adaptation: a source and a target dataset configured apart
        classes = [tuple(getattr(ds, 'metainfo', {}).get('classes') or ())
                   for ds in (self.labeled, self.unlabeled)]
        if all(classes) and classes[0] != classes[1]:
            raise ConfigKeyError(f'{type(self).__name__}: the labeled and the unlabeled dataset '
                                 f'name other classes (labeled {list(classes[0])}, unlabeled '
                                 f'{list(classes[1])}); give both the same metainfo.classes')

    @property
    def metainfo(self) -> dict:
        return copy.deepcopy(self.labeled.metainfo)

    def full_init(self) -> None:
        for ds in (self.labeled, self.unlabeled):
            if hasattr(ds, 'full_init'):
                ds.full_init()

    def __len__(self) -> int:
        return max(len(self.labeled), len(self.unlabeled))

    def pair(self, idx: int) -> Tuple[Any, Any]:
        """(labeled item, unlabeled item) of index ``idx``."""
        return (self.labeled[idx % len(self.labeled)],
                self.unlabeled[idx % len(self.unlabeled)])
