"""Mean-teacher wrapper for any mmdet 3.x detector.

``loss()`` is the method's template: the labeled loss, the pseudo labels (teacher in the
original frame, projection into the student's view, filter chain; or the oracle), the
unlabeled loss under the dense-head policies. The parts live in their own modules:
:mod:`~mtkit.models.det.pseudo_labels` (pseudo-label production and statistics),
:mod:`~mtkit.models.det.unsup_policies` (the unsupervised-loss policies) and
:mod:`~mtkit.models.det.student_pass` (the student's losses from features computed once).
"""
import contextlib
from typing import Dict, Optional

from mmdet.structures import SampleList
from mmdet.structures.bbox import get_box_tensor
from torch import Tensor

from ...filters.diagnostics import BOX_STAT_KEYS, ratio
from ...registry import MODELS, register
from ...utils.device import device_scalar
from ...utils.errors import ConfigKeyError, check_choice
from ..semi_common import consensus_partner, teacher_names
from ..teacher_student import SCHEDULE_DEFAULTS, TeacherStudentModel
from .expert import Expert, check_expert
from .pseudo_labels import BoxPseudoLabeler, PseudoLabels
from .relational_context import (RelationalContext, attached, check_relational_context,
                                 install_semantic_loss)
from .semantic_augmentation import SemanticAugmentation, check_semantic_augmentation
from .student_pass import (batch_stats_free, detector_loss, detector_num_classes, joint_features,
                           takes_features)
from .unsup_policies import DenseUnsupLoss, check_policies, zero_unsup_losses

UNSUP_BRANCHES = ('unsup_teacher', 'unsup_student')
LABELED_BRANCHES = ('same_domain', 'other_domain', 'none')

TRAIN_DEFAULTS = dict(
    SCHEDULE_DEFAULTS,
    # Filters applied in order to the teacher's predictions, in the student's view.
    pseudo_filters=None,
    # Shorthands that build the default filters when pseudo_filters is None (pseudo_thr is
    # mmdet SemiBaseDetector's cls_pseudo_thr, named as in the segmentor).
    pseudo_thr=0.5,
    min_pseudo_bbox_wh=(1e-2, 1e-2),
    freeze_teacher=True,
    # The unlabeled images' ground truth reaches the model (the unlabeled pipeline loads the
    # held-out annotations): measure pseudo-label precision/recall against it. Never trained on.
    diagnose_pseudo_labels=False,
    diagnose_iou_thr=0.5,
    # --- unsupervised loss policies (docs/detection.md, "Unsupervised loss policies") ---
    # Which unlabeled images the student's unsupervised loss sees: only those that kept a
    # pseudo box ('with_pseudo'), or the whole batch ('all': an image without pseudo boxes
    # trains its locations as background, except in uncertain regions).
    unsup_images='with_pseudo',
    # 'head': the head's own normalisation (YOLOX/RetinaNet/FCOS/RTMDet divide by the number
    # of positives, so a batch with one pseudo box weighs each background location ~15x a
    # labeled one). 'pseudo_density': times min(1, pseudo boxes per unlabeled image / ground
    # truth boxes per labeled image), i.e. normalised as if the batch were fully labeled.
    unsup_norm='head',
    # Loss keys trained on pseudo labels, as substrings (e.g. ['loss_cls', 'loss_obj'] for
    # Unbiased Teacher's classification-only unsupervised loss); None trains all. The others
    # are computed with weight 0.
    unsup_loss_terms=None,
    # Teacher boxes with score >= uncertain_thr that the filters dropped are uncertain
    # regions: the gradient reaching the student's dense-head outputs at locations inside
    # them is multiplied by uncertain_weight (0 = ignore region; 'soft' = 1 - teacher score,
    # Soft-Teacher-style). Dense (single-stage) heads only. None = off.
    uncertain_thr=None,
    uncertain_weight=0.0,
    # The student's backbone and neck run once on the labeled and the unlabeled (strong) images
    # together, and the two losses share those features (one pass of 2B images instead of two of
    # B: fewer launches, better occupancy). 'auto': when no BatchNorm of the backbone or neck
    # normalises with batch statistics (frozen / norm_eval BN, as in mmdet's R50 configs): then
    # losses and gradients are those of two passes (branches of different sizes are padded to
    # the larger, as mmdet pads any batch). True: also with BN in training mode (normalised
    # over both branches together); False: never.
    joint_student_forward='auto',
    # Diagnostic upper bound: the unlabeled images' held-out ground truth (in the student's
    # view) replaces the teacher's pseudo labels, optionally degraded:
    # dict(recall=1.0, false_positives=0.0, jitter=0.0). The teacher is not run. Needs the
    # unlabeled pipeline to load the held-out annotations (*-unlabeled.gt.json).
    oracle=None,
    # Where the labeled branch comes from: 'same_domain' (the unlabeled images' domain),
    # 'other_domain' (a source domain: the student's backbone never runs on both branches at
    # once, so no normalisation statistic mixes the domains) or 'none' (source-free: batches
    # hold the unlabeled branches only, the student trains on pseudo labels alone).
    labeled_branch='same_domain',
    # Grounded Teacher's relational context module and semantic-aware loss (dense heads):
    # None, or dict(alpha=0.99, reweight=True, reg=1.0, variant='pair'): the class-relation
    # matrix of the student's predictions against the pseudo labels (EMA weight of the old value
    # alpha), and, with reweight, each positive location's classification loss weighted by it
    # (docs/domain_adaptation.md, "Grounded Teacher"). Set at build time.
    relational_context=None,
    # Grounded Teacher's expert branch: None, or dict(config=..., checkpoint=...) (any mmdet
    # detector, run online on the weak view) or dict(predictions=...) (its boxes, written
    # before by tools/expert_predictions.py), with score_thr=0.5, min_size=2.0, weight=1.0 and
    # optionally classes=[...]: the student's loss on the expert's boxes, expert_* losses times
    # weight. Set at build time.
    expert=None,
    # Grounded Teacher's semantic augmentation: None, or dict(prob=0.5, bank_thr=0.8,
    # bank_size=50, beta=0.5, min_size=4): bank crops of the classes the detector confuses with
    # a box's class mixed into it (mtkit/models/det/semantic_augmentation.py). With a
    # relational context it picks the classes from it, else uniformly. Set at build time.
    semantic_augmentation=None,
)
TEST_DEFAULTS = dict(predict_on='teacher')


@register(MODELS)
class MeanTeacherDetector(TeacherStudentModel):
    """Teacher/student pair of one mmdet detector, trained with teacher pseudo labels.

    A :class:`~mtkit.models.teacher_student.TeacherStudentModel` (its contract: pairs,
    iteration, burn-in, ``sup_*`` / ``unsup_*`` losses, pseudo-label statistics) that works
    with mmdet's ``MultiBranch`` pipelines and samplers (branches ``sup``, ``unsup_teacher``,
    ``unsup_student``); a plain detector checkpoint fills the student and every teacher. Per
    training iteration (:meth:`loss`):

    1. the student's loss on the labeled branch (``sup_*``), unless
       ``labeled_branch='none'`` (source-free);
    2. pseudo labels (:class:`~mtkit.models.det.pseudo_labels.BoxPseudoLabeler`): the active
       teacher predicts the weak view, its boxes go back to the original frame, into the
       student's view and through the :class:`~mtkit.filters.FilterChain`; or, with
       ``oracle``, the held-out ground truth;
    3. the student's loss on them (``unsup_*``) under the dense-head policies
       (:class:`~mtkit.models.det.unsup_policies.DenseUnsupLoss`), times the unsupervised weight
       (burn-in and ramp; during the burn-in the teacher is not even run).

    ``unsup_pseudo_per_img`` and ``unsup_weight`` are logged with the losses; counts (and,
    with ``diagnose_pseudo_labels``, precision / recall against held-out ground truth) go to
    :meth:`pseudo_label_scalars` for :class:`~mtkit.hooks.PseudoLabelDiagnosticsHook`. A
    second teacher ``teacher2`` is built when a filter needs one (:class:`ConsensusFilter`)
    or ``num_teachers=2`` (:class:`~mtkit.hooks.DualTeacherHook`).

    Args:
        detector: Config of any mmdet detector.
        semi_train_cfg: Keys of ``TRAIN_DEFAULTS``; an unknown key raises.
        semi_test_cfg: ``predict_on``: ``'teacher'`` (default), ``'student'`` or another
            teacher's name (``'teacher2'``).
        num_teachers: Number of EMA teachers (``teacher``, ``teacher2``, ...).
        data_preprocessor: Defaults to mmdet's ``MultiBranchDataPreprocessor`` around the
            detector's own preprocessor (a plain one given here is wrapped alike).
        init_cfg: As MMEngine.
    """

    TRAIN_DEFAULTS = TRAIN_DEFAULTS
    TEST_DEFAULTS = TEST_DEFAULTS
    STAT_KEYS = BOX_STAT_KEYS
    FILTER_SHORTHANDS = ('pseudo_thr', 'min_pseudo_bbox_wh')
    PREPROCESSOR_WRAPPER = 'mmdet.MultiBranchDataPreprocessor'

    def __init__(self, detector: dict, semi_train_cfg: Optional[dict] = None,
                 semi_test_cfg: Optional[dict] = None, num_teachers: int = 1,
                 data_preprocessor: Optional[dict] = None, init_cfg=None) -> None:
        super().__init__(semi_train_cfg=semi_train_cfg, semi_test_cfg=semi_test_cfg,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg,
                         wrapped=detector)
        cfg = self.semi_train_cfg
        num_teachers = self.build_pseudo_filter(
            [dict(type='ScoreThreshold', thr=cfg['pseudo_thr']),
             dict(type='MinBoxSize', min_size=tuple(cfg['min_pseudo_bbox_wh']))], num_teachers)
        self.student = MODELS.build(detector)
        for name in teacher_names(num_teachers):
            self.add_pair(name, 'student', MODELS.build(detector), freeze=cfg['freeze_teacher'])
        self.finish_pairs()
        self.num_classes = detector_num_classes(self.student)
        if self.num_classes is not None:
            self.check_filter_classes(self.num_classes)
        owner = self.owner
        self.pseudo_labeler = BoxPseudoLabeler(owner, cfg, self.pseudo_filter, self.pseudo_stats,
                                               self.num_classes)
        self.unsup_policy = DenseUnsupLoss(owner, cfg)
        self.relation = self.semantic_loss = None
        if cfg['relational_context'] is not None:
            if self.num_classes is None:
                raise ConfigKeyError(f'{owner}.semi_train_cfg.relational_context needs the '
                                     f"detector's number of classes (bbox_head.num_classes)")
            self.relation = RelationalContext(self.num_classes, **cfg['relational_context'])
        self.augment = None
        if cfg['semantic_augmentation'] is not None:
            if self.num_classes is None:
                raise ConfigKeyError(f'{owner}.semi_train_cfg.semantic_augmentation needs the '
                                     f"detector's number of classes (bbox_head.num_classes)")
            self.augment = SemanticAugmentation(self.num_classes,
                                                **cfg['semantic_augmentation'])
        if self.relation is not None or self.augment is not None:
            self.semantic_loss = install_semantic_loss(self.student, owner)
        self.expert = None
        if cfg['expert'] is not None:
            self.expert = Expert(owner, cfg['expert'], self.num_classes,
                                 getattr(self.data_preprocessor, 'data_preprocessor',
                                         self.data_preprocessor))

    def check_train_cfg(self, cfg: dict) -> None:
        name = f'{self.owner}.semi_train_cfg'
        check_policies(name, cfg)
        check_choice(f'{name}.labeled_branch', cfg['labeled_branch'], LABELED_BRANCHES)
        cfg['relational_context'] = check_relational_context(f'{name}.relational_context',
                                                             cfg['relational_context'])
        cfg['expert'] = check_expert(f'{name}.expert', cfg['expert'])
        cfg['semantic_augmentation'] = check_semantic_augmentation(
            f'{name}.semantic_augmentation', cfg['semantic_augmentation'])
        for key, attr in (('relational_context', 'relation'), ('expert', 'expert'),
                          ('semantic_augmentation', 'augment')):
            built = getattr(self, attr, 'unbuilt')
            if built != 'unbuilt' and (built is None) != (cfg[key] is None):
                raise ConfigKeyError(f'{name}.{key} is set when the model is built; it cannot '
                                     f'be switched on or off afterwards')
        if cfg['labeled_branch'] == 'none':
            bad = {k: cfg[k] for k, ok in (('burn_in_iters', 0), ('unsup_norm', 'head'))
                   if cfg[k] != ok}
            if cfg['unsup_weight'] == 0:
                bad['unsup_weight'] = 0
            if bad:
                raise ConfigKeyError(
                    f"{name}.labeled_branch='none' (source-free) trains on pseudo labels "
                    f"alone: it needs burn_in_iters=0, unsup_norm='head' (there is no labeled "
                    f"density to normalise by) and unsup_weight > 0; got {bad}")

    def start_checkpoint_reason(self) -> Optional[str]:
        if self.semi_train_cfg['labeled_branch'] == 'none':
            return (f"{self.owner}.semi_train_cfg.labeled_branch='none' (source-free): the "
                    f'teachers and the student start from the source model, and there is no '
                    f'label to learn from fresh weights')
        return None

    def predict(self, inputs: Tensor, data_samples: SampleList) -> SampleList:
        return self.predicting_model()(inputs, data_samples, mode='predict')

    # ------------------------------------------------------------------ training
    def loss(self, inputs: Dict[str, Tensor], data_samples: Dict[str, SampleList]) -> dict:
        """The method: labeled loss, pseudo labels, unlabeled loss (see the class docstring)."""
        weight = self.unsup_weight()
        labeled = self.semi_train_cfg['labeled_branch'] != 'none'
        self.check_branches(inputs, labeled, unlabeled=weight != 0.0)
        if weight == 0.0:  # burn-in: the teacher is not run
            losses = self.sup_loss(inputs['sup'], data_samples['sup'])
            losses.update(zero_unsup_losses(losses, self.zero_loss()))
            losses['unsup_pseudo_per_img'] = device_scalar(0.0, self.data_preprocessor.device)
        else:
            pseudo = self.pseudo_labels(inputs, data_samples)
            plain_view, n_mixed = inputs['unsup_student'], None
            if self.augment is not None:
                mixed_view, kept, n_mixed = self.augment(plain_view, pseudo.kept, self.relation,
                                                         self.iter_generator())
                inputs = dict(inputs, unsup_student=mixed_view)
                pseudo = PseudoLabels(kept, pseudo.uncertain)
            student_samples = pseudo.student_samples(data_samples['unsup_student'])
            keep = self.unsup_policy.images_kept(pseudo.counts)
            sup_x, unsup_x, expert_x = self.student_features(inputs, data_samples,
                                                             student_samples, keep, labeled)
            losses, sup_density = {}, None
            if labeled:
                losses = self.sup_loss(inputs['sup'], data_samples['sup'], sup_x)
                sup_density = sum(len(s.gt_instances) for s in data_samples['sup']) / max(
                    len(data_samples['sup']), 1)
            with self.semantic_context():
                losses.update(self.unsup_policy(
                    self.student, inputs['unsup_student'], student_samples, keep, weight,
                    self.zero_loss, uncertain=pseudo.uncertain, sup_density=sup_density,
                    features=unsup_x, zero_like=losses or None))
            if self.relation is not None:  # every rank, every step: the matrix's EMA step
                self.relation.commit()
                losses['rcm_diag_mean'] = self.relation.diagonal_mean()
            if self.expert is not None:  # on the view without mixing: the expert saw that
                losses.update(self.expert_loss(dict(inputs, unsup_student=plain_view),
                                               data_samples, expert_x))
            if n_mixed is not None:
                losses['sa_mixed_per_img'] = device_scalar(
                    n_mixed / max(len(student_samples), 1), self.data_preprocessor.device)
        losses['unsup_weight'] = device_scalar(weight, self.data_preprocessor.device)
        return losses

    def student_features(self, inputs: Dict[str, Tensor], data_samples: Dict[str, SampleList],
                         student_samples: SampleList, keep: list, labeled: bool) -> tuple:
        """The student's backbone + neck features computed once and shared, ``(labeled,
        kept unlabeled images, whole unlabeled batch for the expert)``, each None when the
        loss computes its own: a joint pass over both branches (``joint_student_forward``),
        and with an expert (and no semantic mixing, which changes the view the unsupervised
        loss sees) one pass of the student's view for both unlabeled losses."""
        sup_x = unsup_x = expert_x = None
        if labeled and keep and self.joint_student_forward():
            unsup_inputs = inputs['unsup_student']
            if len(keep) < unsup_inputs.shape[0]:
                unsup_inputs = unsup_inputs[keep]
            sup_x, unsup_x = joint_features(self.student, inputs['sup'], data_samples['sup'],
                                            unsup_inputs, [student_samples[i] for i in keep])
        if self.expert is None or self.augment is not None:
            return sup_x, unsup_x, None
        if unsup_x is None:
            expert_x = self.student.extract_feat(inputs['unsup_student'])
            if len(keep) == len(student_samples):
                unsup_x = expert_x
            elif keep:
                unsup_x = tuple(f[keep] for f in expert_x)
        elif len(keep) == len(student_samples):
            expert_x = unsup_x
        return sup_x, unsup_x, expert_x

    def expert_loss(self, inputs: Dict[str, Tensor], data_samples: Dict[str, SampleList],
                    features: Optional[tuple] = None) -> dict:
        """``expert_*``: the student's loss on the expert's boxes (original frame -> the
        student's view, at least ``min_size`` wide and high), times the expert's ``weight``;
        ``features``: the student's features of the whole unlabeled batch, when computed."""
        cfg = self.semi_train_cfg['expert']
        found = self.expert.boxes(
            lambda model, name, x, samples: self.pseudo_labeler.predict(
                model, name, x, samples, self.check_finite),
            inputs['unsup_teacher'], data_samples['unsup_teacher'])
        view = self.pseudo_labeler.to_view(found, data_samples['unsup_student'])
        kept = []
        for inst in view:
            wh = get_box_tensor(inst.bboxes)[:, 2:] - get_box_tensor(inst.bboxes)[:, :2]
            kept.append(inst[(wh >= cfg['min_size']).all(1)])
        samples = PseudoLabels(kept).student_samples(data_samples['unsup_student'])
        losses = self.prefixed(detector_loss(self.student, inputs['unsup_student'], samples,
                                             features), 'expert_', cfg['weight'])
        losses['expert_boxes_per_img'] = device_scalar(
            sum(len(k) for k in kept) / max(len(kept), 1), self.data_preprocessor.device)
        return losses

    def named_class_lists(self) -> Dict[str, list]:
        """Class names the datasets must have besides the heads' counts (ClassesCheckHook)."""
        if self.expert is not None and self.expert.classes is not None:
            return {f'{self.owner}.semi_train_cfg.expert': list(self.expert.classes)}
        return {}

    def semantic_context(self):
        """While the unsupervised loss runs: the student's classification loss on the soft
        labels of mixed objects, weighed (and the relation's pairs counted) by the relational
        context, when configured."""
        if self.semantic_loss is None:
            return contextlib.nullcontext()
        if self.relation is None:  # soft labels of mixed objects only
            return attached(self.semantic_loss)
        return attached(self.semantic_loss, self.relation.weights)

    def check_branches(self, inputs: dict, labeled: bool, unlabeled: bool) -> None:
        """The batch holds the branches the config needs (``sup`` unless source-free; the
        unlabeled ones unless the unsupervised weight is 0: during the burn-in
        ``BurnInIterBasedTrainLoop`` loads labeled images only)."""
        need = (('sup', ) if labeled else ()) + (UNSUP_BRANCHES if unlabeled else ())
        missing = [b for b in need if b not in inputs]
        if missing:
            raise ConfigKeyError(
                f'{self.owner}: the training batch lacks branch(es) {missing} (has '
                f'{sorted(inputs)}). Labeled data must go through mmdet MultiBranch with a '
                f'"sup" branch, unlabeled data with "unsup_teacher" and "unsup_student" (see '
                f'configs/_base_/datasets/semi_digitscenes_det.py); source-free training sets '
                f"semi_train_cfg.labeled_branch='none'.")

    def sup_loss(self, inputs: Tensor, samples: SampleList,
                 features: Optional[tuple] = None) -> dict:
        """``sup_*``: the student's loss on labeled images, times ``sup_weight``."""
        return self.prefixed(detector_loss(self.student, inputs, samples, features), 'sup_',
                             self.semi_train_cfg['sup_weight'])

    def pseudo_labels(self, inputs: Dict[str, Tensor],
                      data_samples: Dict[str, SampleList]) -> PseudoLabels:
        """The pseudo labels of the unlabeled batch in the student's view: the oracle's, or
        the active teacher's (with its consensus partner's when a filter needs them)."""
        if self.semi_train_cfg['oracle'] is not None:
            return self.pseudo_labeler.oracle(data_samples['unsup_student'])
        x, samples = inputs['unsup_teacher'], data_samples['unsup_teacher']
        second = None
        if 'second' in self.pseudo_filter.requires:
            name = consensus_partner(self.active_teacher)
            second = self.teacher_boxes(name, x, samples)
        boxes = self.teacher_boxes(self.active_teacher, x, samples)
        return self.pseudo_labeler.project(boxes, data_samples['unsup_student'], second,
                                           it=self.train_iter)

    def teacher_boxes(self, name: str, inputs: Tensor, samples: SampleList) -> list:
        """Teacher ``name``'s boxes on ``inputs`` in the original image frame."""
        return self.pseudo_labeler.predict(getattr(self, name), name, inputs, samples,
                                           self.check_finite)

    def unsup_loss(self, inputs: Tensor, samples: SampleList, uncertain: Optional[list] = None,
                   weight: Optional[float] = None, sup_density: Optional[float] = None) -> dict:
        """The unsupervised loss of ``samples`` (the student's view, pseudo labels as
        ``gt_instances``) on its own, images chosen by the policy (as :meth:`loss` does)."""
        keep = self.unsup_policy.images_kept([len(s.gt_instances) for s in samples])
        return self.unsup_policy(self.student, inputs, samples, keep,
                                 self.unsup_weight() if weight is None else weight,
                                 self.zero_loss, uncertain=uncertain, sup_density=sup_density)

    def joint_student_forward(self) -> bool:
        """Whether this step runs the student's backbone and neck once on both branches
        (``semi_train_cfg.joint_student_forward``; ``'auto'``: when none of their BatchNorms
        uses batch statistics, i.e. when it cannot change the features). Never for a labeled
        branch from another domain, nor for detectors whose head losses
        :func:`~mtkit.models.det.student_pass.loss_from_features` does not know."""
        mode = self.semi_train_cfg['joint_student_forward']
        if self.semi_train_cfg['labeled_branch'] == 'other_domain' \
                or not takes_features(self.student):
            return False
        if mode != 'auto':
            return bool(mode)
        return batch_stats_free(self.student)

    # ------------------------------------------------------------------ diagnostics
    def pseudo_label_scalars(self) -> Dict[str, float]:
        """``pseudo/boxes_per_img`` (kept), ``pseudo/raw_per_img`` (before filtering),
        ``pseudo/kept_share``; with held-out ground truth ``pseudo/precision`` (NaN when no
        box was kept: undefined, and never stale) and ``pseudo/recall`` at
        ``diagnose_iou_thr``."""
        s = self.pseudo_stats.pop()
        out = {}
        if s.get('images', 0) > 0:
            out['pseudo/boxes_per_img'] = s['pseudo'] / s['images']
            out['pseudo/raw_per_img'] = s['raw'] / s['images']
            share = ratio(s['pseudo'], s['raw'])
            if share is not None:
                out['pseudo/kept_share'] = share
        if s.get('gt_images', 0) > 0:
            precision = ratio(s['pseudo_correct'], s['pseudo'])
            out['pseudo/precision'] = float('nan') if precision is None else precision
            recall = ratio(s['gt_found'], s['gt'])
            if recall is not None:
                out['pseudo/recall'] = recall
        return out
