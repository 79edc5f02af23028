"""Routing algorithms: from child predictions û to parent capsules v.

A routing algorithm is a module whose ``forward`` takes the predictions
``u_hat`` of shape ``[B, I, J, D]`` (``I`` child capsules, each predicting all
``J`` parents as ``D``-dimensional vectors) and returns the parent capsules
``[B, J, D]``; its ``route`` returns them with the coupling ``[B, I, J]``, the
weights by which each child's predictions entered each parent. Its constructor
takes the keyword arguments ``iterations``, ``n_children`` and ``n_parents`` and
uses those it needs. Adding an algorithm
means adding one such module here and one entry in :data:`ROUTINGS`.
"""

import torch
from torch import Tensor, nn

from .functional import squash, squash_exp

__all__ = ["DynamicRouting", "SelfAttentionRouting", "ROUTINGS", "make_routing"]


class DynamicRouting(nn.Module):
    """Routing by agreement (Sabour et al. 2017, Procedure 1).

    For each example separately: ``b_ij = 0``; then ``iterations`` times,
    ``c_i = softmax_j(b_i)`` (each child distributes itself over the parents),
    ``s_j = Σ_i c_ij û_j|i``, ``v_j = squash(s_j)``, and, except after the last
    iteration, ``b_ij += û_j|i · v_j``.

    Parameters
    ----------
    iterations : int, default=3
        Number of routing iterations ``r >= 1``; ``r = 1`` is uniform coupling.

    Examples
    --------
    >>> import torch
    >>> routing = DynamicRouting(iterations=3)
    >>> routing(torch.randn(2, 6, 4, 16)).shape
    torch.Size([2, 4, 16])
    """

    def __init__(self, iterations: int = 3, **sizes) -> None:
        super().__init__()
        if iterations < 1:
            raise ValueError(f"routing needs at least 1 iteration, got {iterations}.")
        self.iterations = iterations

    def forward(self, u_hat: Tensor) -> Tensor:
        return self.route(u_hat)[0]

    def route(self, u_hat: Tensor) -> tuple[Tensor, Tensor]:
        """Parent capsules ``[B, J, D]`` and the last iteration's coupling ``c``
        ``[B, I, J]`` (each child's row sums to 1 over the parents)."""
        # u_hat: [B, I, J, D]
        logits = u_hat.new_zeros(u_hat.shape[:3])  # b: [B, I, J], one set per example
        for iteration in range(self.iterations):
            coupling = torch.softmax(logits, dim=2)  # c: [B, I, J], sums to 1 over parents
            s = torch.einsum("bij,bijd->bjd", coupling, u_hat)  # [B, J, D]
            v = squash(s)  # [B, J, D]
            if iteration + 1 < self.iterations:
                logits = logits + torch.einsum("bijd,bjd->bij", u_hat, v)
        return v, coupling

    @staticmethod
    def agreement(n_parents: int, dim: int) -> float:
        """Scale ``a`` of the agreement feedback: ``J`` (see ``class_capsule_init_std``).

        ``c_ij ≈ (1 + b_ij) / J`` and ``b_ij = û_j|i · v_j`` give each child a
        ``û û^T v / J`` share of its parent.
        """
        return float(n_parents)

    def extra_repr(self) -> str:
        return f"iterations={self.iterations}"


class SelfAttentionRouting(nn.Module):
    """Non-iterative self-attention routing (Mazzia et al. 2021, Efficient-CapsNet).

    For each example and parent ``j``: the agreement of children ``n`` and ``k`` is
    ``A_j[n, k] = û_j|n · û_j|k / sqrt(D)``; each child's coupling is the softmax over
    parents of its total agreement, ``c_nj = softmax_j(Σ_k A_j[n, k])``; a learnt
    log-prior ``b_nj`` (initially 0) is added, ``s_j = Σ_n (c_nj + b_nj) û_j|n``, and
    ``v_j = squash_exp(s_j)``. Since ``Σ_k A_j[n, k] = û_j|n · Σ_k û_j|k / sqrt(D)``,
    the ``I × I`` matrices are never formed.

    Efficient-CapsNet routes from a handful of primary capsules; from hundreds,
    ``s_j`` stays short at the start only because
    :class:`~sklearn_capsnet.nn.ClassCapsules` scales its starting weights by
    the numbers of children and parents (as for dynamic routing).

    Parameters
    ----------
    n_children : int
        Number of child capsules ``I``.
    n_parents : int
        Number of parent capsules ``J``.
    **unused
        ``iterations`` and other keywords of the routing interface are ignored:
        this routing runs once.

    Examples
    --------
    >>> import torch
    >>> routing = SelfAttentionRouting(n_children=6, n_parents=4)
    >>> routing(torch.randn(2, 6, 4, 16)).shape
    torch.Size([2, 4, 16])
    """

    def __init__(self, n_children: int, n_parents: int, **unused) -> None:
        super().__init__()
        self.log_prior = nn.Parameter(torch.zeros(n_children, n_parents))  # b: [I, J]

    @staticmethod
    def agreement(n_parents: int, dim: int) -> float:
        """Scale ``a`` of the agreement feedback: ``sqrt(D)`` (see ``class_capsule_init_std``).

        ``c_nj ≈ (1 + û_j|n · Σ_k û_j|k / sqrt(D)) / J`` gives each child a
        ``û û^T Σ_k û / (J sqrt(D))`` share of its parent.
        """
        return float(dim) ** 0.5

    def forward(self, u_hat: Tensor) -> Tensor:
        return self.route(u_hat)[0]

    def route(self, u_hat: Tensor) -> tuple[Tensor, Tensor]:
        """Parent capsules ``[B, J, D]`` and the coupling ``c + b`` ``[B, I, J]``: the
        softmax coupling (rows sum to 1) plus the learnt log-prior, so rows sum to
        ``1 + Σ_j b_nj`` and entries may be negative."""
        # u_hat: [B, I, J, D]
        total = u_hat.sum(dim=1, keepdim=True)  # Σ_k û_j|k: [B, 1, J, D]
        agreement = (u_hat * total).sum(dim=-1) / u_hat.shape[-1] ** 0.5  # Σ_k A_j[n,k]: [B, I, J]
        coupling = torch.softmax(agreement, dim=2) + self.log_prior  # c + b: [B, I, J]
        s = torch.einsum("bij,bijd->bjd", coupling, u_hat)  # [B, J, D]
        return squash_exp(s), coupling


ROUTINGS = {"dynamic": DynamicRouting, "self_attention": SelfAttentionRouting}


def make_routing(name: str, iterations: int, n_children: int, n_parents: int) -> nn.Module:
    """Build the routing module called ``name``.

    Parameters
    ----------
    name : {"dynamic", "self_attention"}
    iterations : int
        Routing iterations (ignored by routings that run once).
    n_children, n_parents : int
        Numbers of child and parent capsules.

    Returns
    -------
    torch.nn.Module

    Examples
    --------
    >>> make_routing("dynamic", 2, n_children=1152, n_parents=10)
    DynamicRouting(iterations=2)
    """
    try:
        routing = ROUTINGS[name]
    except KeyError:
        raise ValueError(f"unknown routing {name!r}; choose one of {sorted(ROUTINGS)}.") from None
    return routing(iterations=iterations, n_children=n_children, n_parents=n_parents)
