"""Consistency losses between a student's and a teacher's class distributions (pure torch)."""
import torch
from torch import Tensor


def symmetric_cross_entropy(student_logits: Tensor, teacher_logits: Tensor,
                            alpha: float = 0.5, dim: int = 1) -> Tensor:
    """Symmetric cross-entropy of RMT (Döbler et al., CVPR 2023), per sample (or pixel):

    ``SCE(s, t) = -(1 - a) sum_c softmax(t)_c log softmax(s)_c
                  - a sum_c softmax(s)_c log softmax(t)_c``

    Gradients flow into both arguments; detach the teacher's logits to train the student only.

    Args:
        student_logits, teacher_logits: Same shape, classes along ``dim`` (e.g. (N, C) or
            (N, C, H, W)).
        alpha: Weight ``a`` of the reverse term.
        dim: Class dimension.

    Returns:
        The per-sample loss: the input shape without ``dim``. Take ``.mean()`` to reduce.
    """
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(f'symmetric_cross_entropy: shapes differ, {tuple(student_logits.shape)}'
                         f' vs {tuple(teacher_logits.shape)}')
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f'symmetric_cross_entropy: alpha must be in [0, 1], got {alpha}')
    log_s = student_logits.log_softmax(dim)
    log_t = teacher_logits.log_softmax(dim)
    forward = -(log_t.exp() * log_s).sum(dim)
    reverse = -(log_s.exp() * log_t).sum(dim)
    return (1.0 - alpha) * forward + alpha * reverse


def soft_cross_entropy(student_logits: Tensor, teacher_probs: Tensor, dim: int = 1) -> Tensor:
    """``-sum_c p_c log softmax(s)_c`` per sample, for soft targets ``p`` (e.g. a teacher's
    softmax); the input shape without ``dim``."""
    return -(teacher_probs * student_logits.log_softmax(dim)).sum(dim)


def entropy(logits: Tensor, dim: int = 1) -> Tensor:
    """Shannon entropy ``-sum_c p_c log p_c`` of ``softmax(logits)`` per sample (Tent)."""
    log_p = logits.log_softmax(dim)
    return -(log_p.exp() * log_p).sum(dim)


def supervised_contrastive(features: Tensor, labels: Tensor,
                           temperature: float = 0.1) -> Tensor:
    """Supervised contrastive loss (Khosla et al., 2020), every view an anchor.

    Args:
        features: (N, V, D) L2-normalised features: ``V`` views of each of ``N`` samples.
        labels: (N,) class of each sample; all views of samples with the same label are
            positives of each other.
        temperature: Softmax temperature.

    Returns:
        Scalar: for each anchor ``i`` with positives ``P(i)`` (same label, not itself) among the
        other ``NV - 1`` views ``A(i)``,
        ``-1/|P(i)| sum_{p in P(i)} log(exp(z_i.z_p / T) / sum_{a in A(i)} exp(z_i.z_a / T))``,
        averaged over anchors that have a positive.
    """
    if features.dim() != 3 or labels.shape != features.shape[:1]:
        raise ValueError(f'supervised_contrastive: features must be (N, V, D) and labels (N,), '
                         f'got {tuple(features.shape)} and {tuple(labels.shape)}')
    n, v, _ = features.shape
    z = features.reshape(n * v, -1)
    lab = labels.repeat_interleave(v)
    logits = z @ z.t() / temperature
    self_mask = torch.eye(n * v, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_mask, float('-inf'))
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    pos = (lab[:, None] == lab[None, :]) & ~self_mask
    n_pos = pos.sum(1)
    per_anchor = -(log_prob.masked_fill(~pos, 0.0)).sum(1) / n_pos.clamp_min(1)
    has_pos = n_pos > 0
    return (per_anchor * has_pos).sum() / has_pos.sum().clamp_min(1)
