"""Grounded Teacher's semantic augmentation: crops of confidently pseudo-labeled objects, kept
per class, are mixed into the boxes of the classes they are confused with.

For a pseudo box of class ``g`` whose class the detector predicts well (its diagonal
``C[g, g]`` above the mean diagonal of the relational context ``C``), a class ``m`` is drawn
with probabilities ``C[:, g]`` without ``g`` (the classes the detector mistakes for ``g``:
often the minority classes a biased detector absorbs into a common one), a bank crop of ``m``
is resized to the box and mixed in, ``region <- b * region + (1 - b) * crop`` with
``b ~ Beta(beta, beta)`` folded below 0.5, so the crop dominates and the box is relabeled
``m``; the mixing weight is kept (``mix_weights``: the weight of the new class; ``base_labels``:
the class before) and the student trains on the soft label ``w * m + (1 - w) * g`` (on heads
whose sampler tells which object each location belongs to, as YOLOX's). Boxes of
classes the detector predicts poorly are left alone. Without a relational context the class is
drawn uniformly among the other classes in the bank (the "no RCM" ablation).

The bank is part of the model's state (``get_extra_state``), so a checkpoint resumes with it.
"""
from collections import deque
from typing import List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmdet.structures.bbox import get_box_tensor
from torch import Tensor, nn

from ...losses.semantic_aware import usable_relation
from ...utils.errors import ConfigKeyError, check_cfg

SA_DEFAULTS = dict(prob=0.5, bank_thr=0.8, bank_size=50, beta=0.5, min_size=4)


def check_semantic_augmentation(name: str, cfg: Optional[dict]) -> Optional[dict]:
    """``semi_train_cfg.semantic_augmentation``: None, or a dict of :data:`SA_DEFAULTS` keys
    (returned with the defaults filled in)."""
    if cfg is None:
        return None
    if not isinstance(cfg, dict):
        raise ConfigKeyError(f'{name}: expected None or a dict, got {cfg!r}')
    out = check_cfg(name, cfg, SA_DEFAULTS)
    for key, lo, hi in (('prob', 0.0, 1.0), ('bank_thr', 0.0, 1.0)):
        if not lo <= out[key] <= hi:
            raise ConfigKeyError(f'{name}.{key} must lie in [{lo}, {hi}], got {out[key]!r}')
    if not isinstance(out['bank_size'], int) or out['bank_size'] < 1:
        raise ConfigKeyError(f'{name}.bank_size must be an int >= 1, got {out["bank_size"]!r}')
    if out['beta'] <= 0:
        raise ConfigKeyError(f'{name}.beta must be > 0, got {out["beta"]!r}')
    return out


def mix_class_probs(matrix: Tensor, observed: Tensor, label: int) -> Optional[Tensor]:
    """The draw probabilities of the class mixed into a box of ``label``: ``C[:, label]``
    without ``label`` when ``label`` is predicted better than the mean class (its diagonal
    above the mean diagonal); None when it is not (its boxes are left alone) or the column
    holds (almost) nothing."""
    c = usable_relation(matrix, observed)
    diag = c.diagonal()
    if diag[label] <= diag.mean():
        return None
    col = c[:, label].clone()
    col[label] = 0
    return col / col.sum() if col.sum() >= 0.1 else None


def pixel_box(box: Tensor, h: int, w: int) -> Tuple[int, int, int, int]:
    """An xyxy box (CPU tensor) as the integer pixel slice it covers in an ``h`` x ``w``
    image: the corner rounded down, the far side up, clipped, at least one pixel."""
    x1, y1 = int(box[0].clamp(0, w - 1)), int(box[1].clamp(0, h - 1))
    x2, y2 = int(box[2].ceil().clamp(x1 + 1, w)), int(box[3].ceil().clamp(y1 + 1, h))
    return x1, y1, x2, y2


def mix_region_(image: Tensor, box: Tensor, crop: Tensor, keep: float) -> Tensor:
    """In place: ``image[:, y1:y2, x1:x2] <- keep * region + (1 - keep) * crop`` with the crop
    resized (bilinear) to the region. ``box`` is xyxy in pixels (:func:`pixel_box`). Returns
    the integer box mixed."""
    x1, y1, x2, y2 = pixel_box(box, *image.shape[-2:])
    patch = F.interpolate(crop[None].to(image), size=(y2 - y1, x2 - x1), mode='bilinear',
                          align_corners=False)[0]
    image[:, y1:y2, x1:x2] = keep * image[:, y1:y2, x1:x2] + (1.0 - keep) * patch
    return torch.tensor([x1, y1, x2, y2], dtype=torch.float32)


class SemanticAugmentation(nn.Module):
    """The crop bank and the mixing (see the module docstring); an ``nn.Module`` only for its
    extra state (the bank) in the model's checkpoints.

    Args:
        num_classes: ``K``.
        prob: Chance that a box eligible for mixing is mixed.
        bank_thr: Pseudo boxes scoring at least this enter the bank.
        bank_size: Crops kept per class (the newest).
        beta: ``Beta(beta, beta)`` of the mixing weight.
        min_size: Boxes smaller than this (pixels, either side) neither enter the bank nor get
            mixed.
    """

    def __init__(self, num_classes: int, prob: float = 0.5, bank_thr: float = 0.8,
                 bank_size: int = 50, beta: float = 0.5, min_size: float = 4) -> None:
        super().__init__()
        self.num_classes, self.prob, self.bank_thr = int(num_classes), float(prob), bank_thr
        self.bank_size, self.beta, self.min_size = int(bank_size), float(beta), float(min_size)
        self.bank: List[deque] = [deque(maxlen=self.bank_size) for _ in range(num_classes)]

    # ------------------------------------------------------------------ the bank
    def add(self, images: Tensor, instances: list) -> None:
        """Crop every pseudo box scoring >= ``bank_thr`` (and at least ``min_size``) out of
        ``images`` (the student's view) into its class's bank (kept on the CPU)."""
        h, w = images.shape[-2:]
        for image, inst in zip(images, instances):
            boxes = get_box_tensor(inst.bboxes).detach().cpu()
            good = (inst.scores.detach().cpu() >= self.bank_thr) & \
                ((boxes[:, 2:] - boxes[:, :2]) >= self.min_size).all(1)
            for box, label in zip(boxes[good], inst.labels.detach().cpu()[good]):
                x1, y1, x2, y2 = pixel_box(box, h, w)
                self.bank[int(label)].append(image[:, y1:y2, x1:x2].detach().cpu().clone())

    def bank_sizes(self) -> List[int]:
        return [len(b) for b in self.bank]

    def get_extra_state(self) -> dict:
        return dict(bank=[list(b) for b in self.bank])

    def set_extra_state(self, state: dict) -> None:
        bank = state.get('bank', [])
        if len(bank) != self.num_classes:
            raise ConfigKeyError(f'semantic augmentation: the checkpoint\'s crop bank has '
                                 f'{len(bank)} classes, the model {self.num_classes}')
        self.bank = [deque(crops, maxlen=self.bank_size) for crops in bank]

    # ------------------------------------------------------------------ mixing
    def draw_class(self, label: int, relation: Optional[Tuple[Tensor, Tensor]],
                   gen: torch.Generator) -> Optional[int]:
        """The class mixed into a box of ``label`` (None: leave the box alone); ``relation``:
        the relational context's ``(matrix, observed)`` on the CPU, or None."""
        if relation is not None:
            probs = mix_class_probs(*relation, label)
            if probs is None:
                return None
        else:
            probs = torch.ones(self.num_classes)
            probs[label] = 0
        probs = probs * torch.tensor([float(len(b) > 0) for b in self.bank])
        if probs.sum() <= 0:
            return None
        return int(torch.multinomial(probs, 1, generator=gen))

    def __call__(self, images: Tensor, instances: list, relation,
                 gen: torch.Generator) -> Tuple[Tensor, list, int]:
        """Mix bank crops into a copy of ``images`` (the student's view) and relabel the mixed
        boxes in copies of ``instances``. The bank is then filled from this batch's confident
        boxes, cropped from the view before the mixing (so a box is never mixed with its own
        crop, and no crop holds another one). Returns ``(images, instances, number of boxes
        mixed)``."""
        mixed_images = images.clone()
        out, mixed = [], 0
        # Beta draws from the step's generator too (a resumed run draws the same)
        rng = np.random.default_rng(int(torch.randint(2**31 - 1, (), generator=gen)))
        # the per-box decisions read host copies, taken once
        table = None if relation is None else (relation.matrix.cpu(), relation.observed.cpu())
        for image, inst in zip(mixed_images, instances):
            boxes = get_box_tensor(inst.bboxes).detach().cpu()
            labels = inst.labels.cpu().clone()
            weights = torch.zeros(len(inst))
            big = ((boxes[:, 2:] - boxes[:, :2]) >= self.min_size).all(1).tolist()
            for i in range(len(inst)):
                if not big[i] or float(torch.rand((), generator=gen)) >= self.prob:
                    continue
                m = self.draw_class(int(labels[i]), table, gen)
                if m is None:
                    continue
                crops = self.bank[m]
                crop = crops[int(torch.randint(len(crops), (), generator=gen))]
                b = float(rng.beta(self.beta, self.beta))
                b = min(b, 1.0 - b)  # the crop dominates
                mix_region_(image, boxes[i], crop, b)
                labels[i], weights[i] = m, 1.0 - b
                mixed += 1
            inst = inst.clone()
            device = inst.labels.device
            inst.base_labels, inst.labels = inst.labels, labels.to(device)
            inst.mix_weights = weights.to(device)
            out.append(inst)
        self.add(images, instances)
        return mixed_images, out, mixed
