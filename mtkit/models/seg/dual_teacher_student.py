"""DTS: two teacher-student pairs of one mmseg segmentor for domain adaptation (Huo et al.,
"Focus on Your Target: A Dual Teacher-Student Framework for Domain-adaptive Semantic
Segmentation", ICCV 2023). docs/domain_adaptation.md says which choices are the paper's and
which are options."""
from typing import Dict, Tuple

from torch import Tensor

from ...augment.mix import check_share
from ...filters.diagnostics import pixel_scalars
from ...registry import MODELS, register
from ...utils.device import device_scalar
from ...utils.errors import ConfigKeyError, check_choice
from .mean_teacher_segmentor import TRAIN_DEFAULTS, MeanTeacherSegmentor

#: who makes each student's pseudo labels: its own pair's teacher, or the other pair's
PSEUDO_LABELS = ('own', 'bidirectional')

DTS_TRAIN_DEFAULTS = dict(
    TRAIN_DEFAULTS,
    mix='source_classmix',
    # the second pair sees a larger proportion of target data: ClassMix pastes this fraction
    # of each source image's classes into its target images (the first pair: classmix_share,
    # DAFormer's half). 0 gives it target pixels only in the mixed images.
    second_classmix_share=0.25,
    # weight of the second student's supervised (source) loss
    second_sup_weight=1.0,
    # 'bidirectional': each student trains on the other pair's teacher's pseudo labels (the
    # first learns the second teacher's target knowledge, the second the first teacher's
    # source semantics); 'own': two independent pairs
    pseudo_labels='bidirectional',
)


@register(MODELS)
class DualTeacherStudentSegmentor(MeanTeacherSegmentor):
    """Two (EMA teacher, student) pairs of one segmentor for unsupervised domain adaptation.

    A :class:`~mtkit.MeanTeacherSegmentor` with a second pair (``teacher2`` of ``student2``),
    composed from the same parts: per iteration each student has its supervised loss on the
    labeled source batch (``sup_*``, ``sup_pair2_*``) and its loss on pseudo labels in mixed
    target images (``unsup_loss_seg``, ``unsup_pair2_loss_seg``;
    :meth:`~mtkit.MeanTeacherSegmentor.pair_losses`). The pairs differ in the proportion of
    target data their students see: ClassMix pastes ``classmix_share`` of each source image's
    classes into the first pair's target images and ``second_classmix_share`` (smaller) into
    the second's. With ``pseudo_labels='bidirectional'`` the first student trains on the
    second teacher's pseudo labels and the second student on the first teacher's; with
    ``'own'`` the pairs are independent. Each teacher runs once per iteration.

    Both pairs start from the same (source) checkpoint; each teacher is the EMA of its own
    student (two ``EMATeacherHook`` s, the second with ``teacher_name='teacher2'``). Any of the
    four models predicts (``semi_test_cfg.predict_on``). ``pseudo_label_scalars`` reports each
    pair: ``pseudo/*`` (the first student's pseudo labels) and ``pseudo/pair2_*``, the
    ``target_share`` of each included.

    Args:
        segmentor: Config of an mmseg segmentor with ``encode_decode``.
        semi_train_cfg: ``DTS_TRAIN_DEFAULTS`` keys (those of MeanTeacherSegmentor and the
            second pair's); ``mix`` must be ``'source_classmix'``.
        semi_test_cfg: ``predict_on``: ``'teacher'``, ``'teacher2'``, ``'student'`` or
            ``'student2'``.
        data_preprocessor, init_cfg: As :class:`~mtkit.MeanTeacherSegmentor`.
    """

    TRAIN_DEFAULTS = DTS_TRAIN_DEFAULTS

    def __init__(self, segmentor: dict, semi_train_cfg=None, semi_test_cfg=None,
                 data_preprocessor=None, init_cfg=None) -> None:
        super().__init__(segmentor, semi_train_cfg, semi_test_cfg, num_teachers=1,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.pseudo_stats2 = self.new_pixel_stats()

    def build_pairs(self, segmentor: dict, num_teachers: int) -> None:
        super().build_pairs(segmentor, num_teachers)
        self.student2 = MODELS.build(segmentor)
        self.add_pair('teacher2', 'student2', MODELS.build(segmentor),
                      freeze=self.semi_train_cfg['freeze_teacher'])

    def check_train_cfg(self, cfg: dict) -> None:
        super().check_train_cfg(cfg)
        if cfg['mix'] != 'source_classmix':
            raise ConfigKeyError(
                f"{self.owner}.semi_train_cfg.mix must be 'source_classmix' (the pairs differ in "
                f"the share of source pixels pasted into target images), got {cfg['mix']!r}")
        check_share(cfg['second_classmix_share'],
                    f'{self.owner}.semi_train_cfg.second_classmix_share')
        check_choice(f'{self.owner}.semi_train_cfg.pseudo_labels', cfg['pseudo_labels'],
                     PSEUDO_LABELS)
        if cfg['oracle']:
            raise ConfigKeyError(f'{self.owner}: semi_train_cfg.oracle is the single pair\'s '
                                 f'bound; train it with mtkit.MeanTeacherSegmentor')

    def predictors(self) -> Tuple[str, ...]:
        return ('student', 'teacher', 'student2', 'teacher2')

    def labelling_teachers(self) -> Tuple[str, str]:
        """The teachers whose pseudo labels train (student, student2)."""
        if self.semi_train_cfg['pseudo_labels'] == 'bidirectional':
            return 'teacher2', 'teacher'
        return 'teacher', 'teacher2'

    def loss(self, inputs: Dict[str, Tensor], data_samples: Dict[str, list]) -> dict:
        self.check_branches(inputs)
        c = self.semi_train_cfg
        weight = self.unsup_weight()
        first, second = self.labelling_teachers()
        source = self.source_for_mix(inputs, data_samples, weight)  # one for both pairs
        losses = self.pair_losses(inputs, data_samples, weight, source, 'student', first,
                                  self.pseudo_stats, c['sup_weight'], c['classmix_share'])
        losses.update(self.pair_losses(inputs, data_samples, weight, source, 'student2', second,
                                       self.pseudo_stats2, c['second_sup_weight'],
                                       c['second_classmix_share'], prefix='pair2_', stream=1))
        losses['unsup_weight'] = device_scalar(weight, inputs['weak'].device)
        return losses

    def pseudo_label_scalars(self) -> Dict[str, float]:
        """Each pair's pseudo-label summary (see
        :meth:`~mtkit.MeanTeacherSegmentor.pseudo_label_scalars`): the first student's under
        ``pseudo/``, the second's under ``pseudo/pair2_``."""
        out = pixel_scalars(self.pseudo_stats.pop())
        out.update({k.replace('pseudo/', 'pseudo/pair2_'): v
                    for k, v in pixel_scalars(self.pseudo_stats2.pop()).items()})
        return out
