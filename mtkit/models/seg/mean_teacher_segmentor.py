"""Mean-teacher wrapper for any mmseg 1.x segmentor (``EncoderDecoder`` and friends)."""
import copy
from typing import Dict, List, Optional, Tuple

import torch
from mmengine.logging import MessageHub
from mmengine.model import BaseModel
from torch import Tensor

from ...augment import MIX_MODES, apply_mix, mix_masks
from ...filters import FilterChain
from ...losses.pixel import WEIGHTINGS, pseudo_label_ce
from ...losses.ramps import ramp_weight
from ...registry import MODELS, register
from ...utils.device import device_scalar, host_to_device
from ...utils.errors import ConfigKeyError, check_cfg, check_choice, check_shorthands
from ..semi_common import (check_finite, check_finite_state_dict, consensus_partner,
                           forward_by_mode, scheduled_unsup_weight, spread_plain_state_dict,
                           teacher_names)

BRANCHES = ('sup', 'weak', 'strong')

TRAIN_DEFAULTS = dict(
    sup_weight=1.0,
    unsup_weight=1.0,
    # Filters applied in order to the teacher's per-pixel (confidence, label) maps; None means
    # one ScoreThreshold(pseudo_thr) (pseudo_thr must then be None: it would be ignored).
    pseudo_filters=None,
    pseudo_thr=0.95,
    # 'mask': CE of confident pixels over all valid pixels; 'fraction': CE of every valid
    # pixel, each image weighted by its fraction of confident pixels; 'class_balanced': every
    # pseudo class among the confident pixels weighs the same.
    weighting='mask',
    # Mixing of the unlabeled batch in the student's view: None, 'cutmix' or 'classmix'.
    mix=None,
    cutmix_area=(0.02, 0.4),
    burn_in_iters=0,
    ramp_iters=0,
    ramp='linear',
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
class MeanTeacherSegmentor(BaseModel):
    """Teacher/student pair of one mmseg segmentor, trained with dense pseudo labels.

    Per iteration: the student's supervised loss on the ``sup`` branch (the segmentor's own
    losses, auxiliary heads included); the active teacher predicts the ``weak`` view; its
    per-pixel confidence and class go through the :class:`~mtkit.filters.FilterChain` (dense
    mode); the ``strong`` view, the pseudo labels and the masks are mixed (CutMix / ClassMix,
    one mask for all of them); the student's cross-entropy on the mixed strong view is weighted
    by ``weighting`` and ``unsup_weight`` (with burn-in and ramp). Padding and
    ``ignore_index`` pixels never count.

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

    def __init__(self, segmentor: dict, semi_train_cfg: Optional[dict] = None,
                 semi_test_cfg: Optional[dict] = None, num_teachers: int = 1,
                 data_preprocessor: Optional[dict] = None, init_cfg=None) -> None:
        check_shorthands('MeanTeacherSegmentor.semi_train_cfg', semi_train_cfg, 'pseudo_filters',
                         ('pseudo_thr', ))
        train_cfg = check_cfg('MeanTeacherSegmentor.semi_train_cfg', semi_train_cfg,
                              TRAIN_DEFAULTS)
        test_cfg = check_cfg('MeanTeacherSegmentor.semi_test_cfg', semi_test_cfg, TEST_DEFAULTS)
        self._check_train_cfg(train_cfg)
        if data_preprocessor is None:
            data_preprocessor = segmentor.get('data_preprocessor')
            if data_preprocessor is None:
                raise ConfigKeyError('MeanTeacherSegmentor: give data_preprocessor, or a '
                                     'segmentor config with its own data_preprocessor')
        if str(data_preprocessor.get('type', '')).split('.')[-1] != \
                'MultiBranchSegDataPreProcessor':
            # a plain SegDataPreProcessor (also what MMEngine injects from a config's top-level
            # `data_preprocessor`) is applied to each branch
            data_preprocessor = dict(type='mtkit.MultiBranchSegDataPreProcessor',
                                     data_preprocessor=data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        segmentor = copy.deepcopy(dict(segmentor))
        segmentor.pop('data_preprocessor', None)  # the wrapper's preprocessor does the work
        self.semi_train_cfg = train_cfg
        self.semi_test_cfg = test_cfg
        self.pseudo_filter, num_teachers = FilterChain.for_model(
            'MeanTeacherSegmentor', train_cfg['pseudo_filters'],
            [dict(type='ScoreThreshold', thr=train_cfg['pseudo_thr'])], num_teachers)
        self.student = MODELS.build(segmentor)
        self.ema_teachers = teacher_names(num_teachers)
        for name in self.ema_teachers:
            teacher = MODELS.build(segmentor)
            if train_cfg['freeze_teacher']:
                teacher.requires_grad_(False)
            setattr(self, name, teacher)
        #: Name of the teacher that makes the pseudo labels (set by DualTeacherHook).
        self.active_teacher = 'teacher'
        valid_predictors = ('student', ) + self.ema_teachers
        check_choice('MeanTeacherSegmentor.semi_test_cfg.predict_on', test_cfg['predict_on'],
                     valid_predictors)
        self.num_classes = decode_head_of(self.student, 'MeanTeacherSegmentor').num_classes
        self.pseudo_filter.check_num_classes(
            self.num_classes, 'MeanTeacherSegmentor.semi_train_cfg.' +
            ('pseudo_filters' if train_cfg['pseudo_filters'] is not None else
             'pseudo_thr -> pseudo_filters'))

    @staticmethod
    def _check_train_cfg(cfg: dict) -> None:
        check_choice('MeanTeacherSegmentor.semi_train_cfg.weighting', cfg['weighting'],
                     WEIGHTINGS)
        check_choice('MeanTeacherSegmentor.semi_train_cfg.mix', cfg['mix'], MIX_MODES)
        ramp_weight(0, cfg['burn_in_iters'], cfg['ramp_iters'], cfg['ramp'])

    def update_train_cfg(self, **kwargs) -> None:
        """Change ``semi_train_cfg`` keys (used by DualTeacherHook's per-teacher settings)."""
        new = check_cfg('MeanTeacherSegmentor.semi_train_cfg', dict(self.semi_train_cfg,
                                                                    **kwargs), TRAIN_DEFAULTS)
        self._check_train_cfg(new)
        self.semi_train_cfg.update(new)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs) -> None:
        """A plain segmentor checkpoint (no ``student.`` / ``teacher`` keys) fills the student
        and every teacher (``load_from`` a supervised model)."""
        check_finite_state_dict(state_dict, prefix, 'MeanTeacherSegmentor')
        spread_plain_state_dict(state_dict, prefix, ('student', ) + self.ema_teachers)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)

    # ------------------------------------------------------------------ forward
    def forward(self, inputs, data_samples=None, mode: str = 'tensor'):
        return forward_by_mode(self, inputs, data_samples, mode,
                               lambda: self.student._forward(inputs, data_samples))

    def predict(self, inputs: Tensor, data_samples=None):
        model = getattr(self, self.semi_test_cfg['predict_on'])
        return model.predict(inputs, data_samples)

    # ------------------------------------------------------------------ training
    def unsup_weight(self) -> float:
        """Unsupervised loss weight at the current iteration (from MMEngine's MessageHub)."""
        return scheduled_unsup_weight(self.semi_train_cfg)

    def loss(self, inputs: Dict[str, Tensor], data_samples: Dict[str, list]) -> dict:
        if not isinstance(inputs, dict) or any(b not in inputs for b in BRANCHES):
            have = sorted(inputs) if isinstance(inputs, dict) else type(inputs).__name__
            raise ConfigKeyError(
                f'MeanTeacherSegmentor: the training batch must have branches {list(BRANCHES)}, '
                f'got {have}. Use dict(type="mtkit.SemiSegDataset", labeled=..., unlabeled=...) '
                f'with an unlabeled pipeline ending in mtkit.WeakStrongViews '
                f'(see configs/_base_/datasets/semi_digitscenes_seg.py).')
        c = self.semi_train_cfg
        sup = self.student.loss(inputs['sup'], data_samples['sup'])
        losses = {}
        for k, v in sup.items():
            if 'loss' in k and c['sup_weight'] != 1.0:
                v = v * c['sup_weight']
            losses['sup_' + k] = v
        weight = self.unsup_weight()
        device = inputs['weak'].device
        if weight == 0.0:  # burn-in: the teacher is not run
            zero = sum(p.view(-1)[0] for p in self.student.parameters() if p.requires_grad) * 0.
            losses['unsup_loss_seg'] = zero
            losses['unsup_conf_ratio'] = torch.zeros((), device=device)
        else:
            losses.update(self._unsup_loss(inputs['weak'], inputs['strong'],
                                           data_samples['weak'], data_samples['strong'],
                                           weight))
        losses['unsup_weight'] = device_scalar(weight, device)
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
            check_finite(logits, f'MeanTeacherSegmentor: the logits of {name} on the weak view')
            conf, label = logits.softmax(1).max(1)
        return conf.clone(), label.clone()

    def _unsup_loss(self, weak: Tensor, strong: Tensor, weak_samples: list,
                    strong_samples: list, weight: float) -> dict:
        c = self.semi_train_cfg
        valid = self.valid_mask(weak, weak_samples)
        gt = self._held_out_labels(strong_samples, valid) \
            if c['diagnose_pseudo_labels'] or c['oracle'] else None
        if c['oracle']:
            plabel = gt
            valid = valid & (gt != c['ignore_index'])
            keep = valid
        else:
            conf, plabel = self.teacher_maps(self.active_teacher, weak)
            context = {}
            if 'second' in self.pseudo_filter.requires:
                second = consensus_partner(self.active_teacher)
                context['second'] = self.teacher_maps(second, weak)
            keep = self.pseudo_filter.dense(conf, plabel, context) & valid
        plabel = torch.where(valid, plabel, torch.full_like(plabel, c['ignore_index']))
        masks = mix_masks(c['mix'], plabel, self.num_classes, c['ignore_index'],
                          generator=self._mix_generator(), cutmix_area=c['cutmix_area'])
        if masks is not None:
            perm = torch.roll(torch.arange(weak.shape[0], device=weak.device), 1)
            mixed = apply_mix(masks, perm, strong, plabel, keep, valid,
                              *(() if gt is None else (gt, )))
            strong, plabel, keep, valid = mixed[:4]
            gt = mixed[4] if gt is not None else None
        logits = self.student.encode_decode(strong, full_image_metas(strong))
        loss = pseudo_label_ce(logits, plabel, keep, valid, c['weighting']) * weight
        check_finite(loss, 'MeanTeacherSegmentor: the unsupervised loss')
        out = dict(unsup_loss_seg=loss,
                   unsup_conf_ratio=keep.sum() / valid.sum().clamp_min(1))
        if gt is not None:
            counted = keep & (gt != c['ignore_index'])
            out['unsup_pseudo_acc'] = ((plabel == gt) & counted).sum() / counted.sum().clamp_min(1)
        return out

    @staticmethod
    def _mix_generator() -> torch.Generator:
        """A CPU generator seeded by the run's seed and the iteration: mixing masks do not
        depend on how much of torch's RNG stream was used before, so a resumed run draws the
        same masks as a straight one (MMEngine does not checkpoint RNG states)."""
        it = MessageHub.get_current_instance().get_info('iter', 0)
        return torch.Generator().manual_seed((torch.initial_seed() + 1_000_003 * (it + 1))
                                             % (2**63 - 1))

    def _held_out_labels(self, samples: list, like: Tensor) -> Tensor:
        if not all('gt_sem_seg' in s for s in samples):
            raise ConfigKeyError('MeanTeacherSegmentor: semi_train_cfg.diagnose_pseudo_labels '
                                 'and semi_train_cfg.oracle need the unlabeled pipeline to load '
                                 'the label maps (LoadAnnotations before WeakStrongViews)')
        gt = torch.stack([s.gt_sem_seg.data[0] for s in samples]).to(like.device)
        return gt.long()
