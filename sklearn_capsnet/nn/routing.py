"""Routing algorithms: from child predictions û to parent capsules v.

A routing algorithm is a module whose ``forward`` takes the predictions
``u_hat`` of shape ``[B, I, J, D]`` (``I`` child capsules, each predicting all
``J`` parents as ``D``-dimensional vectors) and returns the parent capsules
``[B, J, D]``. Adding an algorithm means adding one such module here and one
entry in :data:`ROUTINGS`.
"""

import torch
from torch import Tensor, nn

from .functional import squash

__all__ = ["DynamicRouting", "ROUTINGS", "make_routing"]


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

    def __init__(self, iterations: int = 3) -> None:
        super().__init__()
        if iterations < 1:
            raise ValueError(f"routing needs at least 1 iteration, got {iterations}.")
        self.iterations = iterations

    def forward(self, u_hat: Tensor) -> Tensor:
        # u_hat: [B, I, J, D]
        logits = u_hat.new_zeros(u_hat.shape[:3])  # b: [B, I, J], one set per example
        for iteration in range(self.iterations):
            coupling = torch.softmax(logits, dim=2)  # c: [B, I, J], sums to 1 over parents
            s = torch.einsum("bij,bijd->bjd", coupling, u_hat)  # [B, J, D]
            v = squash(s)  # [B, J, D]
            if iteration + 1 < self.iterations:
                logits = logits + torch.einsum("bijd,bjd->bij", u_hat, v)
        return v

    def extra_repr(self) -> str:
        return f"iterations={self.iterations}"


ROUTINGS = {"dynamic": DynamicRouting}


def make_routing(name: str, iterations: int) -> nn.Module:
    """Build the routing module called ``name``.

    Examples
    --------
    >>> make_routing("dynamic", 2)
    DynamicRouting(iterations=2)
    """
    try:
        routing = ROUTINGS[name]
    except KeyError:
        raise ValueError(f"unknown routing {name!r}; choose one of {sorted(ROUTINGS)}.") from None
    return routing(iterations=iterations)
