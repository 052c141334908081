"""Online test-time adaptation methods: Source, BN-adapt, Tent, CoTTA and RMT.

Every method wraps a model with ``extract_feat(x)``, ``head(f)`` and ``feat_dim``: a classifier
(:class:`~mtkit.tta.classifier.TTAImageClassifier`, features (N, D), logits (N, C)) or a
segmentor (:class:`~mtkit.tta.segmentor.TTASegmentor`, ``dense``: features (N, D, h, w), logits
(N, C, h, w)). A method is called once per test batch of preprocessed images: it returns the
batch's predictions made *before* any update on that batch, then adapts. ``reset()`` returns
it to the source state (weights, optimizer, teacher). The math lives in pure functions
(:mod:`mtkit.losses.consistency`, :mod:`mtkit.teachers`).
"""
import copy
import types
from typing import List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.registry import Registry
from torch import Tensor, nn

from ..losses.consistency import entropy, soft_cross_entropy, supervised_contrastive, \
    symmetric_cross_entropy
from ..teachers.ema import build_ema_plan, ema_update_
from ..teachers.restore import stochastic_restore_
from ..utils.errors import ConfigKeyError, check_kwargs

TTA_METHODS = Registry('tta method', scope='mtkit', locations=['mtkit.tta'])

BN_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


def build_tta_method(cfg: dict, model: nn.Module) -> 'TTAMethod':
    """Build ``dict(type=NAME, **kwargs)`` around ``model``; unknown keys are named."""
    cfg = dict(cfg)
    name = str(cfg.pop('type', '')).split('.')[-1]
    cls = TTA_METHODS.get(name)
    if cls is None:
        raise ConfigKeyError(f'unknown test-time method {name!r}; registered: '
                             f'{sorted(TTA_METHODS.module_dict)}')
    check_kwargs(f'test-time method {name}', cls, dict(cfg, model=model))
    return cls(model=model, **cfg)


def use_batch_statistics(model: nn.Module, prior: float = 0.0) -> List[nn.Module]:
    """Put BN layers in train mode with no running statistics: they normalise with each test
    batch's own statistics (BN-adapt, Tent, CoTTA, RMT). Returns the BN layers.

    With ``prior`` = N > 0 they normalise with a mix of the source and the test-batch
    statistics instead, weighted by sample counts (Schneider et al., NeurIPS 2020, "Improving
    robustness against common corruptions by covariate shift adaptation"): for a batch of n
    images, ``mean = N/(N+n) mean_source + n/(N+n) mean_batch``, and the same for the
    variance. Small batches, down to one image, then lean on the source statistics.

    Fallback for a batch of one image: a layer that then sees a single value per channel
    (after global pooling, e.g. DeepLabV3+'s image-pool branch or a BatchNorm1d head), where
    batch statistics are undefined, normalises that batch with the source model's running
    statistics (kept aside here) instead of failing. Layers that see several values per
    channel (any conv feature map, even of one image) always use the test batch's statistics.
    """
    if prior < 0:
        raise ConfigKeyError(f'bn_prior must be >= 0 (0: test-batch statistics only), got '
                             f'{prior}')
    bns = [m for m in model.modules() if isinstance(m, BN_TYPES)]
    for m in bns:
        m.bn_prior = float(prior)
        if m.running_mean is not None:
            m.source_stats = (m.running_mean.detach().clone(), m.running_var.detach().clone())
        m.train()
        m.track_running_stats = False
        m.running_mean = None
        m.running_var = None
        m.forward = types.MethodType(_batch_stat_bn_forward, m)
    return bns


def _batch_stat_bn_forward(self: nn.Module, x: Tensor) -> Tensor:
    stats = getattr(self, 'source_stats', None)
    if x.numel() > x.shape[1]:  # more than one value per channel: batch statistics exist
        if self.bn_prior == 0:
            return F.batch_norm(x, None, None, self.weight, self.bias, True, 0.0, self.eps)
        if stats is None:
            raise ValueError(f'{type(self).__name__}: bn_prior needs the source running '
                             f'statistics, and this layer has none')
        dims = [0] + list(range(2, x.dim()))
        w = x.shape[0] / (x.shape[0] + self.bn_prior)
        shape = [1, -1] + [1] * (x.dim() - 2)
        mean = (1 - w) * stats[0] + w * x.mean(dims)
        var = (1 - w) * stats[1] + w * x.var(dims, unbiased=False)
        y = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.weight is not None:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y
    if stats is None:
        raise ValueError(f'{type(self).__name__}: a batch of one with a single value per '
                         f'channel {tuple(x.shape)} has no batch statistics, and this layer '
                         f'has no source running statistics to fall back on; use batches of '
                         f'two or more images')
    return F.batch_norm(x, stats[0], stats[1], self.weight, self.bias, False, 0.0, self.eps)


def weak_augment(x: Tensor, generator: Optional[torch.Generator] = None,
                 shift: bool = True) -> Tensor:
    """Per-image random shift (up to 1/8 of the size, reflect padding; only with ``shift``,
    which dense prediction turns off to keep pixels aligned), brightness / contrast jitter
    (x0.8-1.2) and Gaussian noise (std 0.05) on normalised images."""
    n, _, h, w = x.shape
    dev = x.device
    out = x
    if shift:
        pad = max(1, h // 8)
        padded = F.pad(x, (pad, pad, pad, pad), mode='reflect')
        dy = torch.randint(0, 2 * pad + 1, (n, ), generator=generator).tolist()
        dx = torch.randint(0, 2 * pad + 1, (n, ), generator=generator).tolist()
        out = torch.stack([padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(n)])
    u = torch.rand(n, 3, generator=generator).to(dev)
    contrast = (0.8 + 0.4 * u[:, 0]).view(n, 1, 1, 1)
    bright = (u[:, 1] - 0.5).mul(0.4).view(n, 1, 1, 1)
    mean = out.mean((1, 2, 3), keepdim=True)
    out = (out - mean) * contrast + mean + bright
    noise = torch.randn(out.shape, generator=generator).to(dev) * 0.05
    return out + noise


class TTAMethod(nn.Module):
    """Base: holds the model and its source state; ``forward(x)`` = predict, then adapt."""

    def __init__(self, model: nn.Module, bn_prior: float = 0.0) -> None:
        super().__init__()
        self.model = model
        self.bn_prior = bn_prior
        self.dense = bool(getattr(model, 'dense', False))
        self._source = copy.deepcopy(model.state_dict())

    def augment(self, x: Tensor, generator: Optional[torch.Generator]) -> Tensor:
        return weak_augment(x, generator, shift=not self.dense)

    def supervised_ce(self, logits: Tensor, labels: Tensor) -> Tensor:
        """Cross-entropy to labels: (N,) classes, or (N, H, W) maps with ignored pixels."""
        if not self.dense:
            return F.cross_entropy(logits, labels)
        logits = self.model.upsample(logits, labels.shape[-2:])
        return F.cross_entropy(logits, labels, ignore_index=self.model.ignore_index)

    def reset(self) -> None:
        self.model.load_state_dict(self._source, strict=False)

    def logits(self, x: Tensor) -> Tensor:
        return self.model.head(self.model.extract_feat(x))

    @torch.no_grad()
    def forward(self, x: Tensor) -> Tensor:
        return self.logits(x)


@TTA_METHODS.register_module()
class Source(TTAMethod):
    """No adaptation: the source model in eval mode."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__(model)
        self.model.eval()


@TTA_METHODS.register_module()
class BNAdapt(TTAMethod):
    """Test-batch BatchNorm statistics (Schneider et al., 2020); no gradient step.

    Args:
        bn_prior: N of the source-statistics prior (0: the test batch's statistics only);
            see :func:`use_batch_statistics`. The same argument exists for Tent, CoTTA, RMT.
    """

    def __init__(self, model: nn.Module, bn_prior: float = 0.0) -> None:
        super().__init__(model, bn_prior)
        self.model.eval()
        use_batch_statistics(self.model, self.bn_prior)

    def reset(self) -> None:
        super().reset()
        use_batch_statistics(self.model, self.bn_prior)


def _bn_affine(model: nn.Module) -> List[nn.Parameter]:
    params = []
    for m in model.modules():
        if isinstance(m, BN_TYPES):
            params += [p for p in (m.weight, m.bias) if p is not None]
    return params


def _adam(params: Sequence[nn.Parameter], lr: float, betas=(0.9, 0.999),
          weight_decay: float = 0.0) -> torch.optim.Optimizer:
    return torch.optim.Adam(params, lr=lr, betas=betas, weight_decay=weight_decay)


@TTA_METHODS.register_module()
class Tent(TTAMethod):
    """Tent (Wang et al., ICLR 2021): minimise the prediction entropy of each test batch,
    updating only the BN affine parameters, with test-batch BN statistics.

    Args:
        lr: Adam learning rate.
        steps: Gradient steps per batch (the prediction is from before the first).
    """

    def __init__(self, model: nn.Module, lr: float = 1e-3, steps: int = 1,
                 bn_prior: float = 0.0) -> None:
        super().__init__(model, bn_prior)
        self.lr, self.steps = lr, steps
        self._setup()

    def _setup(self) -> None:
        self.model.eval()
        use_batch_statistics(self.model, self.bn_prior)
        self.model.requires_grad_(False)
        params = _bn_affine(self.model)
        for p in params:
            p.requires_grad_(True)
        self.optimizer = _adam(params, self.lr)

    def reset(self) -> None:
        super().reset()
        self._setup()

    def forward(self, x: Tensor) -> Tensor:
        out = None
        for _ in range(self.steps):
            with torch.enable_grad():
                logits = self.logits(x)
                loss = entropy(logits).mean()
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer.step()
            if out is None:
                out = logits.detach()
        return out


class _TeacherStudent(TTAMethod):
    """Shared by CoTTA and RMT: a student updated by gradients and an EMA teacher
    (``momentum``: weight of the student in each update, mtkit's one convention; the papers'
    ``ema=0.999`` is ``momentum=0.001``)."""

    def __init__(self, model: nn.Module, lr: float, momentum: float,
                 bn_prior: float = 0.0) -> None:
        super().__init__(model, bn_prior)
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f'{type(self).__name__}: momentum (weight of the new value) must be '
                             f'in [0, 1], got {momentum}')
        self.lr, self.momentum = lr, momentum
        self._setup()

    def _setup(self) -> None:
        self.model.train()  # BN with test-batch statistics, as in CoTTA / RMT
        use_batch_statistics(self.model, self.bn_prior)
        self.model.requires_grad_(True)
        self.teacher = copy.deepcopy(self.model)
        self.teacher.requires_grad_(False)
        self._plan = build_ema_plan(self.teacher, self.model, 'copy')
        self.optimizer = _adam(self.trainable(), self.lr)

    def trainable(self) -> List[nn.Parameter]:
        return [p for p in self.model.parameters() if p.requires_grad]

    def reset(self) -> None:
        super().reset()
        self._setup()

    def teacher_logits(self, x: Tensor) -> Tensor:
        return self.teacher.head(self.teacher.extract_feat(x))

    def ema_step(self) -> None:
        ema_update_(self._plan, self.momentum)


@TTA_METHODS.register_module()
class CoTTA(_TeacherStudent):
    """CoTTA (Wang et al., CVPR 2022).

    The teacher (EMA of the student, ``momentum`` 0.001: the paper's 0.999 decay) gives the
    target: its prediction on the clean
    batch, or, when the source model's mean confidence on the batch is below ``ap``, the mean
    of its predictions over ``num_aug`` augmented copies. The student minimises soft
    cross-entropy to it; after the EMA step each student weight is restored to its source value
    with probability ``restore_p``. The output is the teacher's target.
    """

    def __init__(self, model: nn.Module, lr: float = 1e-3, momentum: float = 0.001,
                 ap: float = 0.92, num_aug: int = 32, restore_p: float = 0.01,
                 seed: int = 0, bn_prior: float = 0.0) -> None:
        self.ap, self.num_aug, self.restore_p = ap, num_aug, restore_p
        self.generator = torch.Generator().manual_seed(seed)
        super().__init__(model, lr, momentum, bn_prior)

    def _setup(self) -> None:
        super()._setup()
        self.anchor = copy.deepcopy(self.model).eval().requires_grad_(False)
        self._source_params = [p.detach().clone() for p in self.model.parameters()]

    def forward(self, x: Tensor) -> Tensor:
        with torch.no_grad():
            anchor_conf = self.anchor.head(self.anchor.extract_feat(x)).softmax(1).max(1)[0]
            target = self.teacher_logits(x).softmax(1)
            if bool(anchor_conf.mean() < self.ap):  # one host read per batch, by design
                augmented = [self.teacher_logits(self.augment(x, self.generator)).softmax(1)
                             for _ in range(self.num_aug)]
                target = torch.stack(augmented).mean(0)
        with torch.enable_grad():
            loss = soft_cross_entropy(self.logits(x), target).mean()
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
        self.ema_step()
        stochastic_restore_([p.data for p in self.model.parameters()], self._source_params,
                            self.restore_p, self.generator if x.device.type == 'cpu' else None)
        return target.log()


@TTA_METHODS.register_module()
class RMT(_TeacherStudent):
    """Robust Mean Teacher (Döbler et al., CVPR 2023).

    Per batch: the teacher predicts the clean view; the student predicts the clean and an
    augmented view; the loss is the symmetric cross-entropy of each student view to the
    teacher's clean prediction (averaged), plus ``lambda_cont`` times the supervised
    contrastive loss of [nearest source prototype, student feature of x, of aug(x)] through a
    trainable projector (temperature ``temperature``), plus, unless ``source_free``, the
    cross-entropy of a labeled source batch (``replay``). The teacher is an EMA of the
    student (``momentum`` 0.001: the paper's 0.999 decay). The output is student + teacher logits.

    Source prototypes (per-class mean pooled features of the source model on the source data)
    are computed once by :meth:`set_source` and cached.

    Args:
        lambda_ce_src, lambda_ce_trg, lambda_cont: Weights of the three losses.
        warmup_steps: Steps of source-only supervised warm-up before the stream (needs source
            data; done by :meth:`warmup`).
        num_pixels: Segmentation only: pixels per batch sampled (the same positions in the
            clean and augmented views) as the contrastive loss's samples; the SCE is per pixel.
    """

    def __init__(self, model: nn.Module, lr: float = 1e-3, momentum: float = 0.001,
                 alpha: float = 0.5, temperature: float = 0.1, lambda_ce_trg: float = 1.0,
                 lambda_cont: float = 1.0, lambda_ce_src: float = 1.0,
                 source_free: bool = True, projection_dim: int = 128,
                 warmup_steps: int = 0, num_pixels: int = 512, seed: int = 0,
                 bn_prior: float = 0.0) -> None:
        self.alpha, self.temperature = alpha, temperature
        self.lambda_ce_trg, self.lambda_cont, self.lambda_ce_src = (lambda_ce_trg, lambda_cont,
                                                                     lambda_ce_src)
        self.source_free, self.warmup_steps = source_free, warmup_steps
        self.seed = seed
        self.generator = torch.Generator().manual_seed(seed)
        self.feat_dim = model.feat_dim
        self.num_pixels = num_pixels
        self.projection_dim = projection_dim
        self.prototypes: Optional[Tensor] = None
        self._replay = None
        super().__init__(model, lr, momentum, bn_prior)

    def _setup(self) -> None:
        with torch.random.fork_rng(devices=[]):  # the same projector on every reset
            torch.manual_seed(self.seed)
            self.projector = nn.Sequential(
                nn.Linear(self.feat_dim, self.projection_dim), nn.ReLU(),
                nn.Linear(self.projection_dim, self.projection_dim)).to(
                    next(self.model.parameters()).device)
        super()._setup()

    def trainable(self) -> List[nn.Parameter]:
        return super().trainable() + list(self.projector.parameters())

    def set_source(self, prototypes: Tensor, replay=None) -> None:
        """Cache source prototypes (C, D); ``replay`` yields labeled source batches
        ``(inputs, labels)`` for the replay loss (required unless ``source_free``) and the
        warm-up.

        With ``warmup_steps`` the student first trains that many steps of cross-entropy on
        source batches (the teacher following by EMA); the warmed-up state is then the one
        :meth:`reset` returns to.
        """
        self.prototypes = prototypes
        self._replay = replay
        if self.warmup_steps:
            if replay is None:
                raise ConfigKeyError('RMT: warmup_steps needs source batches '
                                     '(set_source(prototypes, replay=...))')
            for _ in range(self.warmup_steps):
                xs, ys = next(replay)
                with torch.enable_grad():
                    loss = self.supervised_ce(self.logits(xs), ys)
                    self.optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    self.optimizer.step()
                self.ema_step()
            self._source = copy.deepcopy(self.model.state_dict())

    def sample_pixels(self, *maps: Tensor) -> List[Tensor]:
        """(N, D, h, w) maps -> (K, D) features at the same ``num_pixels`` random positions."""
        n, d, h, w = maps[0].shape
        k = min(self.num_pixels, n * h * w)
        idx = torch.randperm(n * h * w, generator=self.generator)[:k].to(maps[0].device)
        return [m.permute(0, 2, 3, 1).reshape(-1, d).index_select(0, idx) for m in maps]

    def forward(self, x: Tensor) -> Tensor:
        if self.prototypes is None:
            raise RuntimeError('RMT: call set_source(prototypes) before adapting')
        if not self.source_free and self._replay is None:
            raise ConfigKeyError('RMT with source_free=False needs source replay batches '
                                 '(set_source(prototypes, replay=...))')
        aug = self.augment(x, self.generator)
        with torch.no_grad():
            t_logits = self.teacher_logits(x)
        with torch.enable_grad():
            feats = self.model.extract_feat(torch.cat([x, aug]))
            s_logits = self.model.head(feats)
            s_clean, s_aug = s_logits.chunk(2)
            f_clean, f_aug = feats.chunk(2)
            if self.dense:  # pixels are the samples: the same random pixels of both views
                f_clean, f_aug = self.sample_pixels(f_clean, f_aug)
            sce = 0.5 * (symmetric_cross_entropy(s_clean, t_logits, self.alpha).mean()
                         + symmetric_cross_entropy(s_aug, t_logits, self.alpha).mean())
            loss = self.lambda_ce_trg * sce
            if self.lambda_cont > 0:
                with torch.no_grad():
                    sim = F.normalize(f_clean.detach(), dim=1) @ F.normalize(
                        self.prototypes, dim=1).t()
                    nearest = sim.argmax(1)
                views = torch.stack([self.prototypes[nearest], f_clean, f_aug], 1)
                z = F.normalize(self.projector(views), dim=-1)
                loss = loss + self.lambda_cont * supervised_contrastive(z, nearest,
                                                                        self.temperature)
            if not self.source_free:
                xs, ys = next(self._replay)
                src_logits = self.logits(xs)
                loss = loss + self.lambda_ce_src * self.supervised_ce(src_logits, ys)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
        self.ema_step()
        return s_clean.detach() + t_logits


def source_prototypes(model: nn.Module, batches, num_classes: int,
                      ignore_index: int = 255) -> Tensor:
    """(C, D) per-class mean of ``model.extract_feat`` over labeled ``(inputs, labels)``
    batches, with the model in eval mode (source statistics). Classification: pooled features
    and (N,) labels. Segmentation (features (N, D, h, w)): every pixel feature counts, labelled
    by the (N, H, W) label map resized to (h, w) by nearest neighbour; ``ignore_index`` pixels
    are left out. A class without samples is an error naming it."""
    was_training = model.training
    model.eval()
    sums, counts = None, None
    with torch.no_grad():
        for x, y in batches:
            f = model.extract_feat(x)
            y = y.to(f.device)
            if f.dim() == 4:
                y = F.interpolate(y[:, None].float(), size=f.shape[-2:],
                                  mode='nearest')[:, 0].long().flatten()
                f = f.permute(0, 2, 3, 1).reshape(-1, f.shape[1])
                keep = (y != ignore_index) & (y >= 0) & (y < num_classes)
                f, y = f[keep], y[keep]
            if sums is None:
                sums = torch.zeros(num_classes, f.shape[1], device=f.device)
                counts = torch.zeros(num_classes, device=f.device)
            sums.index_add_(0, y, f)
            counts += torch.bincount(y, minlength=num_classes).float()
    model.train(was_training)
    if sums is None or bool((counts == 0).any()):
        missing = [] if sums is None else torch.nonzero(counts == 0).flatten().tolist()
        raise ValueError(f'source_prototypes: no source samples of class(es) {missing}')
    return sums / counts[:, None]
