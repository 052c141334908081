"""An iteration-based train loop that loads only labeled data while the teacher is not used."""
import copy
from functools import partial
from typing import Optional

from mmengine.dataset import ConcatDataset
from mmengine.model import is_model_wrapper
from mmengine.runner import IterBasedTrainLoop

from ..models.teacher_student import TeacherStudentModel
from ..registry import LOOPS, register
from ..utils.errors import ConfigKeyError


def labeled_only_collate(batch, collate):
    """``collate(batch)`` without the branches no sample fills (the labeled pipeline's
    ``MultiBranch`` leaves the unlabeled branches None): the batch then holds ``sup`` only."""
    data = collate(batch)
    for key in ('inputs', 'data_samples'):
        branches = data.get(key)
        if isinstance(branches, dict):
            data[key] = {b: v for b, v in branches.items()
                         if not (isinstance(v, list) and all(x is None for x in v))}
    return data


class _BurnInSwitch:
    """The loop's batch iterator: the labeled-only loader while ``loop.iter <
    burn_in_iters``, then the semi-supervised one; the labeled-only loader is built at its
    first use.

    On resume MMEngine's loop draws ``iter`` batches to skip what was trained; after
    :meth:`replay` those draws come from the loader that served each of those iterations, so
    both loaders stand where a run that never stopped has them (the resumed run trains on
    the same batches)."""

    def __init__(self, loop: 'BurnInIterBasedTrainLoop', semi_iterator) -> None:
        self._loop = loop
        self._semi = semi_iterator
        self._burn_in = None
        self._replay_left = 0
        self._replayed = 0

    def replay(self, iters: int) -> None:
        """The next ``iters`` draws skip the batches of iterations ``0 .. iters - 1``."""
        self._replay_left, self._replayed = iters, 0

    def __iter__(self):
        return self

    def _from_burn_in(self):
        if self._burn_in is None:
            self._burn_in = iter(self._loop.build_burn_in_dataloader())
        return next(self._burn_in)

    def __next__(self):
        loop = self._loop
        if self._replay_left > 0:
            it = self._replayed
            self._replayed += 1
            self._replay_left -= 1
            return self._from_burn_in() if it < loop.burn_in_iters else next(self._semi)
        if loop.iter < loop.burn_in_iters:
            return self._from_burn_in()
        self._burn_in = None  # its workers stop once the burn-in is over
        return next(self._semi)


@register(LOOPS)
class BurnInIterBasedTrainLoop(IterBasedTrainLoop):
    """MMEngine's ``IterBasedTrainLoop`` for mmdet-style semi-supervised data (a
    ``ConcatDataset`` of the labeled and the unlabeled dataset, drawn by a multi-source
    sampler), which during the burn-in -- the first ``semi_train_cfg.burn_in_iters``
    iterations, when the wrapper's unsupervised weight is 0 and the teacher is not run --
    loads only the labeled images: the unlabeled weak and strong views are not decoded,
    augmented, collated or moved to the device just to be discarded.

    The burn-in loader draws the labeled share of each batch (the sampler's
    ``num_per_source[0]``, e.g. 4 of 8 with ``source_ratio=[1, 1]``), so the student sees the
    same number of labeled images per iteration as with the semi-supervised loader; it uses
    the train loader's workers, pinning and collate function, with an infinite shuffled
    sampler seeded by the run's seed.

    Args:
        runner, dataloader, max_iters, val_begin, val_interval, dynamic_intervals: As
            :class:`mmengine.runner.IterBasedTrainLoop`.
        burn_in_iters: The burn-in length; default (None): the model's
            ``semi_train_cfg['burn_in_iters']``. A value that differs from the model's raises
            (the loader would feed the teacher no unlabeled images, or load them for nothing).
    """

    def __init__(self, runner, dataloader, max_iters: int, val_begin: int = 1,
                 val_interval: int = 1000, dynamic_intervals=None,
                 burn_in_iters: Optional[int] = None) -> None:
        super().__init__(runner, dataloader, max_iters, val_begin, val_interval,
                         dynamic_intervals)
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if not isinstance(model, TeacherStudentModel):
            raise ConfigKeyError(
                f'train_cfg.type=BurnInIterBasedTrainLoop needs a teacher-student model with '
                f'semi_train_cfg.burn_in_iters; {type(model).__name__} is none. Use '
                f"train_cfg.type='IterBasedTrainLoop'.")
        model_burn_in = model.burn_in_iters
        if burn_in_iters is not None and int(burn_in_iters) != model_burn_in:
            raise ConfigKeyError(
                f'train_cfg.burn_in_iters={burn_in_iters} differs from the model\'s '
                f'semi_train_cfg.burn_in_iters={model_burn_in}; leave train_cfg.burn_in_iters '
                f'unset (it follows the model)')
        self.burn_in_iters = model_burn_in
        self._labeled, self._labeled_batch = self._labeled_source(self.dataloader)
        self.dataloader_iterator = _BurnInSwitch(self, self.dataloader_iterator)

    def run(self):
        # MMEngine's run() draws `iter` batches first on resume: replay them per loader
        self.dataloader_iterator.replay(self._iter)
        return super().run()

    @staticmethod
    def _labeled_source(loader):
        """(labeled dataset, labeled images per batch) of a semi-supervised train loader."""
        dataset, sampler = loader.dataset, loader.batch_sampler or loader.sampler
        sampler = getattr(sampler, 'sampler', sampler)  # a batch sampler around it
        per_source = getattr(sampler, 'num_per_source', None)
        if not isinstance(dataset, ConcatDataset) or per_source is None:
            raise ConfigKeyError(
                f'train_cfg.type=BurnInIterBasedTrainLoop needs train_dataloader.dataset of '
                f'type ConcatDataset (labeled dataset first) drawn by a multi-source sampler '
                f'(mmdet MultiSourceSampler / GroupMultiSourceSampler), got dataset '
                f'{type(dataset).__name__} and sampler {type(sampler).__name__}')
        return dataset.datasets[0], int(per_source[0])

    def build_burn_in_dataloader(self):
        """The labeled-only loader (see the class docstring)."""
        loader = self.dataloader
        cfg = dict(dataset=self._labeled, batch_size=self._labeled_batch,
                   num_workers=loader.num_workers, pin_memory=loader.pin_memory,
                   persistent_workers=loader.num_workers > 0,
                   sampler=dict(type='InfiniteSampler', shuffle=True),
                   collate_fn=partial(labeled_only_collate, collate=loader.collate_fn))
        return self.runner.build_dataloader(copy.copy(cfg), seed=self.runner.seed)
