"""Mean-teacher wrapper for any mmseg 1.x segmentor (``EncoderDecoder`` and friends)."""
from typing import Dict, List, Optional, Tuple

import torch
from torch import Tensor

from ...augment import MIX_MODES, apply_mix, mix_masks
from ...augment.mix import check_share
from ...filters.diagnostics import (CLASS_COUNTS, MIXED_PIXEL_STAT_KEYS, PseudoLabelStats,
                                   class_agreement_counts, class_pixel_keys, pixel_scalars)
from ...losses.pixel import WEIGHTINGS, pseudo_label_ce
from ...registry import MODELS, register
from ...utils.device import device_scalar, host_to_device
from ...utils.errors import ConfigKeyError, check_choice
from ..semi_common import consensus_partner, teacher_names
from ..teacher_student import SCHEDULE_DEFAULTS, TeacherStudentModel, without_preprocessor

BRANCHES = ('sup', 'weak', 'strong')

TRAIN_DEFAULTS = dict(
    SCHEDULE_DEFAULTS,
    # Filters applied in order to the teacher's per-pixel (confidence, label) maps; None means
    # one ScoreThreshold(pseudo_thr) (pseudo_thr must then be None: it would be ignored).
    pseudo_filters=None,
    pseudo_thr=0.95,
    # 'mask': CE of confident pixels over all valid pixels; 'fraction': CE of every valid
    # pixel, each image weighted by its fraction of confident pixels; 'class_balanced': every
    # pseudo class among the confident pixels weighs the same.
    weighting='mask',
    # Mixing of the unlabeled batch in the student's view: None, 'cutmix' or 'classmix'
    # (among the unlabeled images), or 'source_classmix' (domain adaptation: the pixels of half
    # the classes of each labeled image's ground truth pasted into an unlabeled image; those
    # pixels train on their ground truth with weight 1).
    mix=None,
    cutmix_area=(0.02, 0.4),
    # the fraction of a (pseudo) label map's classes ClassMix pastes: ceil(share * n) of n
    classmix_share=0.5,
    freeze_teacher=True,
    ignore_index=255,
    # The unlabeled pipeline loads the held-out label maps: log the pixel accuracy of the
    # kept pseudo labels against them. Never trained on.
    diagnose_pseudo_labels=False,
    # Oracle: the held-out ground truth of the unlabeled images replaces the teacher's pseudo
    # labels (every labeled pixel kept; the teacher is not run). It bounds what any pseudo-label
    # method can reach with this loss; needs the same pipeline as diagnose_pseudo_labels.
    oracle=False,
)
TEST_DEFAULTS = dict(predict_on='teacher')


def full_image_metas(x: Tensor) -> List[dict]:
    """Metas of a batch ``x`` for ``encode_decode``: ``img_shape`` as a torch.Size, so that
    mmseg heads resize their logits to the full (padded) input."""
    return [dict(img_shape=x.shape[2:], pad_shape=x.shape[2:])] * x.shape[0]


def decode_head_of(segmentor, owner: str):
    """The decode head of an mmseg segmentor with ``encode_decode``; otherwise a
    :class:`ConfigKeyError` naming ``owner`` and the type found."""
    head = getattr(segmentor, 'decode_head', None)
    if head is None or not hasattr(segmentor, 'encode_decode'):
        raise ConfigKeyError(f'{owner} needs a segmentor with decode_head and encode_decode '
                             f'(mmseg EncoderDecoder), got {type(segmentor).__name__}')
    return head


@register(MODELS)
class MeanTeacherSegmentor(TeacherStudentModel):
    """Teacher/student pair of one mmseg segmentor, trained with dense pseudo labels.

    A :class:`~mtkit.models.teacher_student.TeacherStudentModel`. Per iteration: the student's
    supervised loss on the ``sup`` branch (the segmentor's own losses, auxiliary heads
    included; ``sup_*``); the active teacher predicts the ``weak`` view; its per-pixel
    confidence and class go through the :class:`~mtkit.filters.FilterChain` (dense mode); the
    ``strong`` view, the pseudo labels and the masks are mixed (CutMix / ClassMix, one mask for
    all of them; or, for domain adaptation, ``'source_classmix'``: source pixels and their
    ground truth pasted in from the ``sup`` batch); the student's cross-entropy on the mixed
    strong view is weighted by ``weighting`` and ``unsup_weight`` (with burn-in and ramp;
    ``unsup_loss_seg``). Padding and ``ignore_index`` pixels never count. The share of valid
    pixels kept (and, with held-out labels, their accuracy) goes to
    :meth:`pseudo_label_scalars`.

    Teachers are updated by hooks: :class:`~mtkit.hooks.EMATeacherHook` (one EMA teacher) or
    :class:`~mtkit.hooks.DualTeacherHook` (``num_teachers`` temporary teachers, of which
    ``active_teacher`` makes the pseudo labels).

    Args:
        segmentor: Config of any mmseg segmentor with ``encode_decode`` (EncoderDecoder,
            CascadeEncoderDecoder).
        semi_train_cfg: Keys of ``TRAIN_DEFAULTS``; an unknown key raises.
        semi_test_cfg: ``predict_on``: ``'student'`` or a teacher's name.
        num_teachers: Number of teachers (``teacher``, ``teacher2``, ...). A consensus filter
            needs 2: the second teacher's maps are its ``context['second']``.
        data_preprocessor: A :class:`MultiBranchSegDataPreProcessor`, or a plain one (e.g.
            ``SegDataPreProcessor``) which is then wrapped in it; defaults to the segmentor's.
        init_cfg: As MMEngine.
    """

    TRAIN_DEFAULTS = TRAIN_DEFAULTS
    TEST_DEFAULTS = TEST_DEFAULTS
    STAT_KEYS = MIXED_PIXEL_STAT_KEYS
    FILTER_SHORTHANDS = ('pseudo_thr', )
    # a plain SegDataPreProcessor (also what MMEngine injects from a config's top-level
    # `data_preprocessor`) is applied to each branch
    PREPROCESSOR_WRAPPER = 'mtkit.MultiBranchSegDataPreProcessor'

    def __init__(self, segmentor: dict, semi_train_cfg: Optional[dict] = None,
                 semi_test_cfg: Optional[dict] = None, num_teachers: int = 1,
                 data_preprocessor: Optional[dict] = None, init_cfg=None) -> None:
        super().__init__(semi_train_cfg, semi_test_cfg, data_preprocessor, init_cfg,
                         wrapped=segmentor)
        segmentor = without_preprocessor(segmentor)
        num_teachers = self.build_pseudo_filter(
            [dict(type='ScoreThreshold', thr=self.semi_train_cfg['pseudo_thr'])], num_teachers)
        self.build_pairs(segmentor, num_teachers)
        self.finish_pairs()
        self.num_classes = decode_head_of(self.student, self.owner).num_classes
        self.check_filter_classes(self.num_classes)
        self.pseudo_stats = self.new_pixel_stats()

    def new_pixel_stats(self) -> PseudoLabelStats:
        """Running sums of :attr:`STAT_KEYS` and the per-class coupling counts."""
        return PseudoLabelStats(self.STAT_KEYS,
                                blocks={CLASS_COUNTS: class_pixel_keys(self.num_classes)})

    def build_pairs(self, segmentor: dict, num_teachers: int) -> None:
        """The student and its ``num_teachers`` teachers, all of the ``segmentor`` config
        (subclasses add pairs of their own)."""
        self.student = MODELS.build(segmentor)
        for name in teacher_names(num_teachers):
            self.add_pair(name, 'student', MODELS.build(segmentor),
                          freeze=self.semi_train_cfg['freeze_teacher'])

    def check_train_cfg(self, cfg: dict) -> None:
        check_choice(f'{self.owner}.semi_train_cfg.weighting', cfg['weighting'], WEIGHTINGS)
        check_choice(f'{self.owner}.semi_train_cfg.mix', cfg['mix'], MIX_MODES)
        check_share(cfg['classmix_share'], f'{self.owner}.semi_train_cfg.classmix_share')

    # ------------------------------------------------------------------ training
    def check_branches(self, inputs) -> None:
        if not isinstance(inputs, dict) or any(b not in inputs for b in BRANCHES):
            have = sorted(inputs) if isinstance(inputs, dict) else type(inputs).__name__
            raise ConfigKeyError(
                f'MeanTeacherSegmentor: the training batch must have branches {list(BRANCHES)}, '
                f'got {have}. Use dict(type="mtkit.SemiSegDataset", labeled=..., unlabeled=...) '
                f'with an unlabeled pipeline ending in mtkit.WeakStrongViews '
                f'(see configs/_base_/datasets/semi_digitscenes_seg.py).')

    def loss(self, inputs: Dict[str, Tensor], data_samples: Dict[str, list]) -> dict:
        self.check_branches(inputs)
        c = self.semi_train_cfg
        weight = self.unsup_weight()
        losses = self.pair_losses(inputs, data_samples, weight,
                                  self.source_for_mix(inputs, data_samples, weight), 'student',
                                  self.active_teacher, self.pseudo_stats, c['sup_weight'],
                                  c['classmix_share'])
        losses['unsup_weight'] = device_scalar(weight, inputs['weak'].device)
        return losses

    def pair_losses(self, inputs: Dict[str, Tensor], data_samples: Dict[str, list],
                    weight: float, source: Optional[Tuple[Tensor, Tensor]], student: str,
                    teacher: str, stats: PseudoLabelStats, sup_weight: float, share: float,
                    prefix: str = '', stream: int = 0) -> dict:
        """The losses of ``student``: supervised on the ``sup`` branch (``sup_{prefix}*``)
        and on ``teacher``'s pseudo labels (``unsup_{prefix}loss_seg``, times ``weight``;
        :func:`~mtkit.losses.pixel.pseudo_label_ce`), its ClassMix pasting ``share`` of the
        classes (of ``source``, :meth:`source_for_mix`, when given) with random draws of
        ``stream``; statistics into ``stats``."""
        losses = self.prefixed(getattr(self, student).loss(inputs['sup'], data_samples['sup']),
                               f'sup_{prefix}', sup_weight)
        if weight == 0.0:  # burn-in: the teacher is not run
            losses[f'unsup_{prefix}loss_seg'] = self.zero_loss([student])
            return losses
        losses[f'unsup_{prefix}loss_seg'] = self._unsup_loss(
            inputs['weak'], inputs['strong'], data_samples['weak'], data_samples['strong'],
            weight, source, student, teacher, stats, share, stream)
        return losses

    def valid_mask(self, x: Tensor, samples: list) -> Tensor:
        """(B, H, W) True on real pixels, False on the padding the preprocessor added."""
        b, _, h, w = x.shape
        ys = torch.arange(h, device=x.device)[None, :, None]
        xs = torch.arange(w, device=x.device)[None, None, :]
        pads = host_to_device([list(s.metainfo.get('padding_size', (0, 0, 0, 0)))
                               for s in samples], x.device, torch.long).view(b, 4)
        return ((xs >= pads[:, 0, None, None]) & (xs < w - pads[:, 1, None, None])
                & (ys >= pads[:, 2, None, None]) & (ys < h - pads[:, 3, None, None]))

    def teacher_maps(self, name: str, x: Tensor) -> Tuple[Tensor, Tensor]:
        """(confidence, label) maps (B, H, W) of teacher ``name`` on images ``x``: the teacher
        runs under ``torch.inference_mode()`` (and the student's autocast under AMP), the
        softmax in float32; the maps are cloned out of inference mode."""
        teacher = getattr(self, name)
        teacher.eval()
        with torch.inference_mode():
            logits = teacher.encode_decode(x, full_image_metas(x)).float()
            self.check_finite(logits, f'the logits of {name} on the weak view')
            conf, label = logits.softmax(1).max(1)
        return conf.clone(), label.clone()

    def source_for_mix(self, inputs: Dict[str, Tensor], data_samples: Dict[str, list],
                       weight: float) -> Optional[Tuple[Tensor, Tensor]]:
        """(images, labels) of the labeled batch for ``mix='source_classmix'`` (labels: the
        ground truth, ``ignore_index`` on padding), once per iteration for every pair; None
        without source mixing or in burn-in."""
        if self.semi_train_cfg['mix'] != 'source_classmix' or weight == 0.0:
            return None
        images, samples, target_shape = inputs['sup'], data_samples['sup'], inputs['strong'].shape
        if images.shape != target_shape:
            raise ConfigKeyError(
                f'{self.owner}: semi_train_cfg.mix="source_classmix" pastes the labeled images '
                f'into the unlabeled ones, so both batches need one shape; got labeled '
                f'{tuple(images.shape)} and unlabeled {tuple(target_shape)} (use the same '
                f'crop size and batch size for both)')
        labels = self._held_out_labels(samples, images)
        valid = self.valid_mask(images, samples)
        ignore = self.semi_train_cfg['ignore_index']
        return images, torch.where(valid, labels, torch.full_like(labels, ignore))

    def _unsup_loss(self, weak: Tensor, strong: Tensor, weak_samples: list,
                    strong_samples: list, weight: float,
                    source: Optional[Tuple[Tensor, Tensor]], student: str, teacher: str,
                    stats: PseudoLabelStats, share: float, stream: int) -> Tensor:
        c = self.semi_train_cfg
        valid = self.valid_mask(weak, weak_samples)
        gt = self._held_out_labels(strong_samples, valid) \
            if c['diagnose_pseudo_labels'] or c['oracle'] else None
        if c['oracle']:
            plabel = gt
            valid = valid & (gt != c['ignore_index'])
            keep = valid
        else:
            conf, plabel = self.teacher_maps(teacher, weak)
            context = {'iter': self.train_iter}
            if 'second' in self.pseudo_filter.requires:
                second = consensus_partner(teacher)
                context['second'] = self.teacher_maps(second, weak)
            keep = self.pseudo_filter.dense(conf, plabel, context) & valid
        plabel = torch.where(valid, plabel, torch.full_like(plabel, c['ignore_index']))
        exact = None
        stats_now = {}
        if source is not None:  # source pixels (ground truth) pasted into the target images
            src_img, src_label = source
            exact = mix_masks(c['mix'], src_label, self.num_classes, c['ignore_index'],
                              generator=self.iter_generator(stream), classmix_share=share)
            strong = torch.where(exact[:, None], src_img, strong)
            plabel = torch.where(exact, src_label, plabel)
            valid = valid | exact
            stats_now['mixed'] = valid.sum()  # target pixels / these: the target proportion
            if gt is not None:  # diagnostics count the target's own pixels only
                gt = torch.where(exact, torch.full_like(gt, c['ignore_index']), gt)
        else:
            masks = mix_masks(c['mix'], plabel, self.num_classes, c['ignore_index'],
                              generator=self.iter_generator(stream), cutmix_area=c['cutmix_area'],
                              classmix_share=share)
            if masks is not None:
                perm = torch.roll(torch.arange(weak.shape[0], device=weak.device), 1)
                mixed = apply_mix(masks, perm, strong, plabel, keep, valid,
                                  *(() if gt is None else (gt, )))
                strong, plabel, keep, valid = mixed[:4]
                gt = mixed[4] if gt is not None else None
        logits = getattr(self, student).encode_decode(strong, full_image_metas(strong))
        loss = pseudo_label_ce(logits, plabel, keep, valid, c['weighting'], exact) * weight
        self.check_finite(loss, 'the unsupervised loss')
        if exact is not None:  # the statistics are the pseudo labels' (target pixels)
            keep, valid = keep & ~exact, valid & ~exact
        # coupling: the student's prediction (its view) against the teacher's label, from the
        # logits the loss already has
        agree = (logits.detach().argmax(1) == plabel) & valid
        stats_now.update(images=device_scalar(weak.shape[0], weak.device), raw=valid.sum(),
                         pseudo=keep.sum(), agree=agree.sum())
        stats_now[CLASS_COUNTS] = class_agreement_counts(plabel, agree, valid, self.num_classes)
        if gt is not None:
            counted = keep & (gt != c['ignore_index'])
            stats_now.update(checked=counted.sum(),
                             pseudo_correct=((plabel == gt) & counted).sum())
        stats.add(stats_now)
        return loss

    def pseudo_label_scalars(self) -> Dict[str, float]:
        """``pseudo/kept_share`` (kept / valid pixels, after mixing), ``pseudo/agreement``
        (valid pixels where the student's prediction on the strong view is the teacher's label:
        how coupled the two are), ``pseudo/class_agreement`` (the same per teacher class,
        averaged over the classes, so that background does not drown the digits) and, with held-out label maps, ``pseudo/accuracy`` of the kept
        pixels that have a label. With source mixing, the target's own pixels only, and
        ``pseudo/target_share``: the share of the mixed images' valid pixels that are the
        target's."""
        return pixel_scalars(self.pseudo_stats.pop())

    def _held_out_labels(self, samples: list, like: Tensor) -> Tensor:
        if not all('gt_sem_seg' in s for s in samples):
            raise ConfigKeyError('MeanTeacherSegmentor: semi_train_cfg.diagnose_pseudo_labels '
                                 'and semi_train_cfg.oracle need the unlabeled pipeline to load '
                                 'the label maps (LoadAnnotations before WeakStrongViews)')
        gt = torch.stack([s.gt_sem_seg.data[0] for s in samples]).to(like.device)
        return gt.long()
