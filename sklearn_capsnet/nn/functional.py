"""Plain tensor functions of the capsule network: squash, lengths and the losses.

Every function here works in any floating dtype, so the tests can check them
against float64 references written literally from the paper.
"""

import torch
from torch import Tensor

__all__ = [
    "squash",
    "squash_exp",
    "capsule_lengths",
    "longest_capsule",
    "capsule_log_odds",
    "lengths_to_proba",
    "margin_loss",
    "cross_entropy_loss",
    "reconstruction_loss",
]


def squash(s: Tensor, dim: int = -1) -> Tensor:
    """Shrink vectors to a length in [0, 1) while keeping their direction.

    ``squash(s) = |s|^2 / (1 + |s|^2) * s / |s| = s * |s| / (1 + |s|^2)``
    (Sabour et al. 2017, eq. 1). Written in the second form it is finite at
    ``s = 0`` and so is its gradient (zero there), without an epsilon that
    would bias the result.

    Parameters
    ----------
    s : Tensor
        Capsule input vectors.
    dim : int, default=-1
        The axis holding the capsule's components.

    Returns
    -------
    Tensor
        The squashed vectors, same shape as ``s``.

    Examples
    --------
    >>> import torch
    >>> squash(torch.tensor([[3.0, 4.0]]))
    tensor([[0.5769, 0.7692]])
    """
    norm = torch.linalg.vector_norm(s, dim=dim, keepdim=True)
    return s * (norm / (1.0 + norm * norm))


def squash_exp(s: Tensor, dim: int = -1) -> Tensor:
    """Efficient-CapsNet's squash: ``(1 - exp(-|s|)) * s / |s|``.

    Mazzia et al. (2021), eq. 6: saturates more slowly than :func:`squash` for
    long vectors. Finite at ``s = 0``, where its slope is the identity.

    Parameters
    ----------
    s : Tensor
        Capsule input vectors.
    dim : int, default=-1
        The axis holding the capsule's components.

    Returns
    -------
    Tensor
        Same shape as ``s``, lengths in [0, 1).

    Examples
    --------
    >>> import torch
    >>> squash_exp(torch.tensor([[3.0, 4.0]]))
    tensor([[0.5960, 0.7946]])
    """
    norm = torch.linalg.vector_norm(s, dim=dim, keepdim=True)
    safe = torch.where(norm > 1e-6, norm, torch.ones_like(norm))
    factor = torch.where(norm > 1e-6, -torch.expm1(-safe) / safe, 1.0 - norm / 2)
    return s * factor


def capsule_lengths(capsules: Tensor) -> Tensor:
    """Lengths of capsule vectors: ``[..., D] -> [...]``.

    Parameters
    ----------
    capsules : Tensor of shape (..., D)

    Returns
    -------
    Tensor of shape (...)

    Examples
    --------
    >>> import torch
    >>> capsule_lengths(torch.tensor([[[3.0, 4.0]]]))
    tensor([[5.]])
    """
    return torch.linalg.vector_norm(capsules, dim=-1)


def longest_capsule(capsules: Tensor) -> Tensor:
    """The index of each example's longest capsule, its predicted class: ``[B, J, D] -> [B]``.

    The one rule of the prediction: the decoder's mask at inference, ``predict``
    and skorch's ``net_.predict`` all call it.

    Examples
    --------
    >>> import torch
    >>> longest_capsule(torch.tensor([[[0.1, 0.0], [0.0, 0.7], [0.4, 0.4]]]))
    tensor([1])
    """
    return capsule_lengths(capsules).argmax(dim=-1)


# float64 limits: lengths are kept inside (0, 1) without merging distinct float32 lengths
_TINY = float(torch.finfo(torch.float64).tiny)
_BELOW_ONE = 1.0 - float(torch.finfo(torch.float64).eps) / 2


def capsule_log_odds(lengths: Tensor) -> Tensor:
    """``log(p / (1 - p))`` of the lengths, in float64.

    Only lengths of exactly 0 or 1 are moved, to the nearest float64 inside
    (0, 1), so the log-odds are finite and keep the order of every pair of
    distinct lengths (a wider clip such as ``[1e-6, 1 - 1e-6]`` would make
    0.9999991 and 0.9999999 equal). Their softmax over classes is
    :func:`lengths_to_proba`.

    Parameters
    ----------
    lengths : Tensor
        Capsule lengths in [0, 1].

    Returns
    -------
    Tensor
        float64, same shape as ``lengths``.

    Examples
    --------
    >>> import torch
    >>> capsule_log_odds(torch.tensor([0.5, 0.9])).round(decimals=4)
    tensor([0.0000, 2.1972], dtype=torch.float64)
    """
    p = lengths.double().clamp(_TINY, _BELOW_ONE)
    return torch.log(p) - torch.log1p(-p)


def lengths_to_proba(lengths: Tensor) -> Tensor:
    """Turn per-class capsule lengths into class probabilities that sum to 1.

    A class capsule's length is trained (margin loss) to say whether its class
    is present, independently of the other classes. Reading it as that
    probability and conditioning on exactly one class being present gives
    ``P(k) ∝ p_k / (1 - p_k)``: the odds of each length, normalised, computed as
    the softmax of :func:`capsule_log_odds`. Distinct lengths keep their order,
    so ``argmax`` is the longest capsule. The margin loss does not calibrate
    lengths: see the user guide on calibration.

    Parameters
    ----------
    lengths : Tensor of shape (n_samples, n_classes)
        Capsule lengths in [0, 1].

    Returns
    -------
    Tensor of shape (n_samples, n_classes), float64

    Examples
    --------
    >>> import torch
    >>> lengths_to_proba(torch.tensor([[0.9, 0.1, 0.1]])).round(decimals=3)
    tensor([[0.9760, 0.0120, 0.0120]], dtype=torch.float64)
    """
    return torch.softmax(capsule_log_odds(lengths), dim=-1)


def margin_loss(
    lengths: Tensor,
    targets: Tensor,
    m_plus: float = 0.9,
    m_minus: float = 0.1,
    down_weight: float = 0.5,
    weight: Tensor | None = None,
) -> Tensor:
    """Margin loss of eq. 4, summed over classes and averaged over the batch.

    ``L_k = T_k max(0, m+ - |v_k|)^2 + λ (1 - T_k) max(0, |v_k| - m-)^2``

    Parameters
    ----------
    lengths : Tensor of shape (batch, n_classes)
        Lengths of the class capsules.
    targets : Tensor of shape (batch,) of class indices, or (batch, n_classes)
        of 0/1 indicators.
    m_plus, m_minus, down_weight : float
        The paper's 0.9, 0.1 and λ = 0.5.
    weight : Tensor of shape (batch,), default=None
        Each example's weight: the batch's mean of ``weight * loss`` (None: all 1).

    Returns
    -------
    Tensor
        A scalar.

    Examples
    --------
    >>> import torch
    >>> margin_loss(torch.tensor([[0.9, 0.1]]), torch.tensor([0]))
    tensor(0.)
    """
    if targets.dim() == 1:
        targets = torch.nn.functional.one_hot(targets, lengths.shape[-1])
    targets = targets.to(lengths.dtype)
    present = targets * torch.relu(m_plus - lengths) ** 2
    absent = down_weight * (1.0 - targets) * torch.relu(lengths - m_minus) ** 2
    return _mean((present + absent).sum(dim=-1), weight)


def cross_entropy_loss(lengths: Tensor, targets: Tensor, weight: Tensor | None = None) -> Tensor:
    """Cross-entropy of the scores the lengths encode, averaged over the batch.

    The scores are the lengths' log-odds ``z_k = log(|v_k| / (1 - |v_k|))``
    (:func:`capsule_log_odds`, in float64): one label per example,
    ``-log softmax(z)_y``; 0/1 indicators, binary cross-entropy of each
    ``sigmoid(z_k) = |v_k|`` summed over the classes. For capsules whose length is
    ``sigmoid`` of a score (inverted attention routing) this is the cross-entropy
    of those scores.

    Parameters
    ----------
    lengths : Tensor of shape (batch, n_classes)
        Lengths of the class capsules, in [0, 1].
    targets : Tensor of shape (batch,) of class indices, or (batch, n_classes)
        of 0/1 indicators.
    weight : Tensor of shape (batch,), default=None
        Each example's weight: the batch's mean of ``weight * loss`` (None: all 1).

    Returns
    -------
    Tensor
        A scalar, in ``lengths``' dtype.

    Examples
    --------
    >>> import torch
    >>> cross_entropy_loss(torch.tensor([[0.5, 0.5]]), torch.tensor([0]))
    tensor(0.6931)
    """
    scores = capsule_log_odds(lengths)  # float64
    if targets.dim() == 1:
        per_example = torch.nn.functional.cross_entropy(scores, targets, reduction="none")
    else:
        per_example = torch.nn.functional.binary_cross_entropy_with_logits(
            scores, targets.to(scores.dtype), reduction="none"
        ).sum(dim=-1)
    return _mean(per_example, weight).to(lengths.dtype)


def reconstruction_loss(
    reconstruction: Tensor, images: Tensor, weight: Tensor | None = None
) -> Tensor:
    """Sum of squared errors per example, averaged over the batch.

    Parameters
    ----------
    reconstruction : Tensor of shape (batch, n_features)
    images : Tensor of shape (batch, ...) with ``n_features`` values per example.
    weight : Tensor of shape (batch,), default=None
        Each example's weight: the batch's mean of ``weight * error`` (None: all 1).

    Returns
    -------
    Tensor
        A scalar.

    Examples
    --------
    >>> import torch
    >>> reconstruction_loss(torch.zeros(2, 4), torch.ones(2, 2, 2))
    tensor(4.)
    """
    diff = reconstruction - images.reshape(reconstruction.shape)
    return _mean((diff * diff).sum(dim=-1), weight)


def _mean(per_example: Tensor, weight: Tensor | None) -> Tensor:
    """The batch mean of ``per_example``, each term multiplied by its weight if given."""
    if weight is None:
        return per_example.mean()
    return (per_example * weight.to(per_example.dtype)).mean()
