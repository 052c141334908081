"""Stable Mean Teacher (Kumar et al., AAAI 2025) for dense per-frame video segmentation: an
mmseg segmentor applied to every frame of a clip, an EMA teacher, the Error Recovery module and
the Difference-of-Pixels consistency."""
from typing import Dict, Optional

import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from torch import Tensor

from ...filters.diagnostics import PIXEL_STAT_KEYS, pixel_scalars
from ...losses.temporal import dop_loss
from ...registry import MODELS, register
from ...utils.device import device_scalar
from ...utils.errors import ConfigKeyError
from ..seg.mean_teacher_segmentor import decode_head_of, full_image_metas
from ..teacher_student import SCHEDULE_DEFAULTS, TeacherStudentModel, without_preprocessor
from .clip_preprocessor import clip_labels
from .eor import eor_ce_gain, eor_loss, refine

TRAIN_DEFAULTS = dict(
    SCHEDULE_DEFAULTS,
    # weight of the teacher-student consistency, the unsupervised loss (0: supervised only; the
    # teacher is not run); the same key as the detector's and the segmentor's
    unsup_weight=0.1,
    # DoP: add MSE of the frame-to-frame differences to each consistency term
    use_dop=True,
    # EoR: train the error-recovery module on labeled clips and add the consistency to the
    # EoR teacher's refinement of the teacher's probabilities
    use_eor=True,
    eor_weight=1.0,
    # the consistency weight ramps in as exp(-5 (1 - it / ramp_iters)^2) (as published)
    ramp='sigmoid',
    # std of the Gaussian noise (on normalised frames) of the student's view of every clip
    noise_std=0.1,
    ignore_index=255,
)
TEST_DEFAULTS = dict(predict_on='teacher')


@register(MODELS)
class StableMeanTeacherSegmentor(TeacherStudentModel):
    """Semi-supervised clip segmentation with a mean teacher, DoP and EoR.

    A :class:`~mtkit.models.teacher_student.TeacherStudentModel` with the pairs
    ``teacher <- student`` and, with ``use_eor``, ``eor_teacher <- eor``. Per training
    iteration, on a batch of labeled (``sup``) and unlabeled (``unsup``) clips of ``T`` frames:

    * ``sup_loss_seg``: cross-entropy of the student's per-frame logits on labeled frames;
    * ``unsup_loss_cons`` (``unsup_weight`` w, ramped): the teacher's (eval mode, EMA)
      per-frame probabilities T on every clip, the student's S on a noisy view of the same
      frames, and ``dop_loss(S, T, T~, w)`` = ``w [MSE(S,T) + MSE(DS,DT)] + w [MSE(S,T~) +
      MSE(DS,DT~)]`` over (B, T, C, H, W); without ``use_dop`` the difference terms go, without
      ``use_eor`` the second bracket (then it is the plain mean-teacher MSE);
    * ``sup_loss_eor`` (``use_eor``): the EoR module learns, from the student's *detached*
      probabilities on labeled clips, to predict the ground truth (CE + Dice, ``eor_weight``);
      its EMA copy ``eor_teacher`` refines the teacher's probabilities into T~. Logged with
      it: ``sup_eor_ce_gain``, the cross-entropy of the student's probabilities minus that of
      the EoR's refinement, on the labeled frames (positive: the EoR corrects the student).

    The consistency trains every pixel of every frame on the teacher's soft targets: the
    pseudo-label statistics (:meth:`pseudo_label_scalars`) count them all as kept, and, on
    labeled clips, the accuracy of the teacher's argmax against the labels.

    The EMA updates belong to :class:`~mtkit.hooks.StableTeacherHook` (which takes the pairs
    from the model). Prediction uses ``semi_test_cfg.predict_on`` (teacher or student) and
    returns one sample per clip with ``pred_sem_seg`` (T, H, W).

    Args:
        segmentor: Config of an mmseg segmentor with ``encode_decode`` (EncoderDecoder).
        eor: Config of the EoR module (e.g. ``dict(type='mtkit.ErrorRecoveryUNet')``;
            ``num_classes`` is filled in), used when ``use_eor``.
        semi_train_cfg, semi_test_cfg: See ``TRAIN_DEFAULTS`` / ``TEST_DEFAULTS``.
        data_preprocessor: Defaults to :class:`~mtkit.models.video.ClipSegDataPreProcessor`.
    """

    TRAIN_DEFAULTS = TRAIN_DEFAULTS
    TEST_DEFAULTS = TEST_DEFAULTS
    STAT_KEYS = PIXEL_STAT_KEYS

    def __init__(self, segmentor: dict, eor: Optional[dict] = None,
                 semi_train_cfg: Optional[dict] = None, semi_test_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None, init_cfg=None) -> None:
        if data_preprocessor is None or str(data_preprocessor.get('type', '')).split('.')[-1] \
                == 'SegDataPreProcessor':
            # (MMEngine injects a config's top-level SegDataPreProcessor; frames need ours)
            keep = {k: data_preprocessor[k] for k in ('mean', 'std', 'bgr_to_rgb')
                    if data_preprocessor and k in data_preprocessor}
            data_preprocessor = dict(type='mtkit.ClipSegDataPreProcessor', **keep)
        super().__init__(semi_train_cfg, semi_test_cfg, data_preprocessor, init_cfg)
        train_cfg = self.semi_train_cfg
        segmentor = without_preprocessor(segmentor)
        self.student = MODELS.build(segmentor)
        self.num_classes = decode_head_of(self.student, self.owner).num_classes
        self.add_pair('teacher', 'student', MODELS.build(segmentor))
        if train_cfg['use_eor']:
            if eor is None:
                raise ConfigKeyError('StableMeanTeacherSegmentor: semi_train_cfg.use_eor needs '
                                     'an eor module config, e.g. '
                                     "eor=dict(type='mtkit.ErrorRecoveryUNet')")
            eor = dict(eor, num_classes=self.num_classes)
            self.eor = MODELS.build(eor)
            self.add_pair('eor_teacher', 'eor', MODELS.build(eor))
        self.finish_pairs()

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _logits(model, x: Tensor) -> Tensor:
        return model.encode_decode(x, full_image_metas(x)).float()

    @staticmethod
    def _clips(x: Tensor, num_clips: int) -> Tensor:
        """(B * T, C, H, W) -> (B, T, C, H, W)."""
        return x.view(num_clips, x.shape[0] // num_clips, *x.shape[1:])

    # ------------------------------------------------------------------ forward
    def tensor_forward(self, inputs, data_samples=None):
        return self._logits(self.student, inputs)

    def loss(self, inputs: Dict[str, Tensor], data_samples: Dict[str, list]) -> dict:
        if not isinstance(inputs, dict) or 'sup' not in inputs:
            raise ConfigKeyError('StableMeanTeacherSegmentor: the training batch must be a dict '
                                 "with a 'sup' branch (and 'unsup'); use "
                                 "dict(type='mtkit.SemiClipDataset', labeled=..., unlabeled=...)")
        c = self.semi_train_cfg
        sup_x = inputs['sup']
        n_sup = len(data_samples['sup'])
        labels = clip_labels(data_samples['sup'], sup_x.device)
        weight = self.unsup_weight()
        use_unsup = weight > 0 and 'unsup' in inputs
        x = torch.cat([sup_x, inputs['unsup']]) if use_unsup else sup_x
        n_clips = n_sup + (len(data_samples['unsup']) if use_unsup else 0)
        view = x + c['noise_std'] * torch.randn_like(x) if weight > 0 else x
        logits = self._logits(self.student, view)
        self.check_finite(logits, 'the student logits')
        n_sup_frames = sup_x.shape[0]
        losses = dict(sup_loss_seg=c['sup_weight'] * F.cross_entropy(
            logits[:n_sup_frames], labels, ignore_index=c['ignore_index']))
        probs = self._clips(logits.softmax(1), n_clips)
        if c['use_eor']:
            # the EoR learns from the student's mistakes on labeled clips (no gradient into
            # the student); labels as (B, T, H, W)
            eor_logits = self.eor(probs[:n_sup].detach())
            clip_lab = labels.view(n_sup, -1, *labels.shape[1:])
            losses['sup_loss_eor'] = c['eor_weight'] * eor_loss(eor_logits, clip_lab,
                                                                c['ignore_index'])
            # diagnostic (not a loss): how much the EoR lowers the cross-entropy of the
            # student's probabilities on the labeled frames; 0 while it is the identity
            losses['sup_eor_ce_gain'] = eor_ce_gain(probs[:n_sup].detach(),
                                                    eor_logits.detach(), clip_lab,
                                                    c['ignore_index'])
        if weight > 0:
            with torch.no_grad():
                self.teacher.eval()
                t_probs = self._clips(self._logits(self.teacher, x).softmax(1), n_clips)
                self.check_finite(t_probs, 'the teacher probabilities')
                refined = refine(self.eor_teacher, t_probs) if c['use_eor'] else None
            losses['unsup_loss_cons'] = dop_loss(probs, t_probs, refined, weight=weight,
                                                 temporal=c['use_dop'])
            self._record(t_probs, n_sup, labels)
        else:
            losses['unsup_loss_cons'] = self.zero_loss(['student'])
        losses['unsup_weight'] = device_scalar(weight, x.device)
        return losses

    def _record(self, t_probs: Tensor, n_sup: int, labels: Tensor) -> None:
        """Statistics of the teacher's targets: every pixel of every frame is trained on
        (kept); on the labeled frames, how often the teacher's argmax is the label."""
        c = self.semi_train_cfg
        b, t, _, h, w = t_probs.shape
        pixels = device_scalar(b * t * h * w, t_probs.device)
        pred = t_probs[:n_sup].argmax(2).flatten(0, 1)
        counted = labels != c['ignore_index']
        self.pseudo_stats.add(dict(images=device_scalar(b * t, t_probs.device), raw=pixels,
                                   pseudo=pixels, checked=counted.sum(),
                                   pseudo_correct=((pred == labels) & counted).sum()))

    def pseudo_label_scalars(self) -> Dict[str, float]:
        """``pseudo/kept_share`` (1: the consistency uses every pixel) and
        ``pseudo/accuracy``: the teacher's argmax against the labels of the labeled frames."""
        return pixel_scalars(self.pseudo_stats.pop())

    @torch.no_grad()
    def predict(self, inputs: Tensor, data_samples: Optional[list] = None) -> list:
        model = self.predicting_model()
        model.eval()
        if data_samples is None:
            raise ConfigKeyError('StableMeanTeacherSegmentor.predict needs the clip samples')
        logits = self._clips(self._logits(model, inputs), len(data_samples))
        for sample, clip_logits in zip(data_samples, logits):
            sample.pred_sem_seg = PixelData(data=clip_logits.argmax(1))
        return data_samples
