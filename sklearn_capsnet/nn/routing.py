"""Routing algorithms: from child predictions û to parent capsules v.

A routing algorithm is a module whose ``forward`` takes the predictions
``u_hat`` of shape ``[B, I, J, D]`` (``I`` child capsules, each predicting all
``J`` parents as ``D``-dimensional vectors) and returns the parent capsules
``[B, J, D]``; its ``route`` returns them with the coupling ``[B, I, J]``, the
weights by which each child's predictions entered each parent. Its constructor
takes the keyword arguments ``iterations``, ``n_children``, ``n_parents`` and
``dim`` (that of the parents) and uses those it needs. Its class attributes say
what the rest of the package may assume: ``objective`` names the loss its parent
capsules are trained with (see :class:`~sklearn_capsnet.nn.CapsuleLoss`), and
``starts_even`` whether its first pass couples every child with ``1 / J`` to each
parent (the neutral level of the coupling maps). Adding an algorithm means adding one
such module here and one entry in :data:`ROUTINGS`.
"""

import torch
from torch import Tensor, nn

from .functional import squash, squash_exp

__all__ = [
    "DynamicRouting",
    "SelfAttentionRouting",
    "InvertedAttentionRouting",
    "ROUTINGS",
    "make_routing",
]


class DynamicRouting(nn.Module):
    """Routing by agreement (Sabour et al. 2017, Procedure 1).

    For each example separately: ``b_ij = 0``; then ``iterations`` times,
    ``c_i = softmax_j(b_i)`` (each child distributes itself over the parents),
    ``s_j = Σ_i c_ij û_j|i``, ``v_j = squash(s_j)``, and, except after the last
    iteration, ``b_ij += û_j|i · v_j``.

    Gradients flow through every iteration, as autograd takes them through the
    loop above. When training on a CPU the backward pass is written out: it forms
    the gradient of ``û`` in one batched product instead of adding one per
    product over ``û`` (2.1× faster forward and backward in bf16; see the
    benchmarks). On GPUs, under ``torch.compile`` and inside ``torch.func``
    transforms autograd differentiates the loop itself, and so it does for
    second derivatives (``create_graph=True``).

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

    objective = "margin"
    starts_even = True

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
        # u_hat: [B, I, J, D]; the sums over children read it parent-major, [B, J, I, D]
        parent_major = u_hat.transpose(1, 2)
        if _trains_on_the_cpu(u_hat):
            v, coupling = _RoutingByAgreement.apply(parent_major, self.iterations)
        else:
            v, coupling, _ = _agree(parent_major, self.iterations)
        return v, coupling.transpose(1, 2)

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

    objective = "margin"
    starts_even = False

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


#: The bound of inverted attention's class scores, ``z = bound · tanh((w · p + b) / bound)``.
#: The scores travel as capsule lengths ``sigmoid(z)`` in float32, whose log-odds stay
#: readable (within 0.005 at |z| = 10, 0.04 at 12, on 4,000 random poses); from about 16
#: ``sigmoid`` rounds to 1 for some poses, the log-odds are lost and cross-entropy's
#: gradient with them.
SCORE_BOUND = 10.0


class InvertedAttentionRouting(nn.Module):
    """Inverted dot-product attention routing (Tsai, Srivastava, Goh & Salakhutdinov 2020).

    For each example, with the votes ``û_j|i`` (``[I, J, D]``): the parent poses
    start at zero; then ``iterations`` times, the agreement of each vote with its
    parent's pose ``a_ij = p_j · û_j|i / sqrt(D)``, the routing coefficients
    ``r_ij = softmax_j(a_ij)`` (each child distributes itself over the parents:
    the "inverted" attention), and the new poses
    ``p_j = LayerNorm(Σ_i r_ij û_j|i)``. No squash: each class's score is a linear
    map of its pose shared by all classes, ``w · p_j + b``, bounded smoothly to
    ``z_j = 10 tanh((w · p_j + b) / 10)`` (``SCORE_BOUND``) and trained with
    cross-entropy (``objective = "cross_entropy"``).

    So that every rule that reads class capsules by their length holds unchanged,
    the class capsule returned is ``v_j = sigmoid(z_j) · p_j / |p_j|``: its
    direction is the pose's, its length ``sigmoid(z_j)``. The longest capsule is
    the highest score, the lengths' log-odds are the scores ``z``, their softmax
    (:func:`~sklearn_capsnet.nn.lengths_to_proba`) is the softmax of the scores
    that cross-entropy trains, and for multilabel targets each length is the
    sigmoid that binary cross-entropy trains.

    Parameters
    ----------
    iterations : int, default=3
        Passes ``r >= 1``; the first couples each child uniformly (``p = 0``).
    dim : int, default=16
        Dimension ``D`` of the parent poses: the layer norm's and the score's size.
    **unused
        The other keywords of the routing interface.

    Attributes
    ----------
    norm : torch.nn.LayerNorm
        The poses' normalisation, with a learnt gain and bias per component.
    score : torch.nn.Linear
        ``w`` and ``b`` of the scores, ``D`` to 1, shared by the classes.

    Examples
    --------
    >>> import torch
    >>> routing = InvertedAttentionRouting(iterations=2, dim=16)
    >>> capsules = routing(torch.randn(2, 6, 4, 16))
    >>> capsules.shape, bool((capsules.norm(dim=-1) < 1).all())
    (torch.Size([2, 4, 16]), True)
    """

    objective = "cross_entropy"
    starts_even = True

    def __init__(self, iterations: int = 3, dim: int = 16, **unused) -> None:
        super().__init__()
        if iterations < 1:
            raise ValueError(f"routing needs at least 1 iteration, got {iterations}.")
        self.iterations = iterations
        self.norm = nn.LayerNorm(dim)
        self.score = nn.Linear(dim, 1)

    def forward(self, u_hat: Tensor) -> Tensor:
        return self.route(u_hat)[0]

    def route(self, u_hat: Tensor) -> tuple[Tensor, Tensor]:
        """Class capsules ``[B, J, D]`` (``sigmoid(z) · p / |p|``) and the last
        pass's coefficients ``r`` ``[B, I, J]`` (each child's row sums to 1)."""
        poses, coupling = self.poses(u_hat)
        linear = (poses * self.score.weight[0]).sum(dim=-1) + self.score.bias  # [B, J]
        scores = SCORE_BOUND * torch.tanh(linear / SCORE_BOUND)  # z, inside ±SCORE_BOUND
        length = torch.linalg.vector_norm(poses, dim=-1, keepdim=True)
        direction = poses / length.clamp_min(torch.finfo(length.dtype).tiny)
        return torch.sigmoid(scores).unsqueeze(-1) * direction, coupling.transpose(1, 2)

    def poses(self, u_hat: Tensor) -> tuple[Tensor, Tensor]:
        """The parent poses ``p`` ``[B, J, D]`` and the last coefficients ``r`` ``[B, J, I]``.

        The sums over children are matrix products in ``u_hat``'s dtype (bf16
        under autocast); agreements, coefficients and poses stay in float32 or wider.
        """
        batch, n_children, n_parents, dim = u_hat.shape
        # parent-major, [B·J, I, D]: a view where û comes from ClassCapsules.predictions
        flat = u_hat.transpose(1, 2).reshape(batch * n_parents, n_children, dim)
        wide = torch.promote_types(u_hat.dtype, torch.float32)
        # the first pass: poses at 0 agree equally with every vote, r_ij = 1 / J
        coupling = u_hat.new_full((batch, n_parents, n_children), 1.0 / n_parents, dtype=wide)
        poses = self.norm(_sum_over_children(coupling, flat, wide))  # [B, J, D]
        for _ in range(self.iterations - 1):  # a_ij = p_j · û_j|i / sqrt(D)
            agreement = _dot_with_parents(flat, poses).to(wide) / dim**0.5
            coupling = torch.softmax(agreement, dim=1)  # r_i: softmax over the parents
            poses = self.norm(_sum_over_children(coupling, flat, wide))
        return poses, coupling

    def extra_repr(self) -> str:
        return f"iterations={self.iterations}"


def _agree(u_hat: Tensor, iterations: int):
    """Procedure 1 on parent-major predictions ``u_hat`` ``[B, J, I, D]``.

    Returns ``v`` ``[B, J, D]`` (float32 or float64), the last coupling ``c``
    ``[B, J, I]`` and each iteration's ``(c, s, v)`` for the backward pass. The
    sums over children are matrix products in ``u_hat``'s dtype (bf16 under
    autocast); logits, coupling and capsules stay in float32 or wider.
    """
    batch, n_parents, n_children, dim = u_hat.shape
    flat = u_hat.reshape(batch * n_parents, n_children, dim)
    wide = torch.promote_types(u_hat.dtype, torch.float32)
    logits = u_hat.new_zeros((batch, n_parents, n_children), dtype=wide)  # b: [B, J, I]
    steps = []
    for iteration in range(iterations):
        coupling = torch.softmax(logits, dim=1)  # c: [B, J, I], each child sums to 1 over J
        s = _sum_over_children(coupling, flat, wide)  # Σ_i c_ij û_j|i: [B, J, D]
        v = squash(s)  # [B, J, D]
        steps.append((coupling, s, v))
        if iteration + 1 < iterations:  # b_ij += û_j|i · v_j
            logits = logits + _dot_with_parents(flat, v)
    return v, coupling, steps


def _trains_on_the_cpu(u_hat: Tensor) -> bool:
    """Whether routing ``u_hat`` takes :class:`_RoutingByAgreement`: eager CPU training.

    On GPUs (not measured) and under ``torch.compile`` (which fuses the plain
    loop itself) or ``torch.func`` transforms, autograd goes through the loop.
    """
    stack = getattr(torch._C._functorch, "peek_interpreter_stack", lambda: None)
    return (
        torch.is_grad_enabled()
        and u_hat.requires_grad
        and u_hat.device.type == "cpu"
        and not torch.compiler.is_compiling()
        and stack() is None
    )


class _RoutingByAgreement(torch.autograd.Function):
    """:func:`_agree` with a backward pass written out, reading ``û`` as few times as it can.

    Left to autograd, every product over ``û`` in every iteration stores its own
    gradient of ``û`` and adds it to the others. Here, with ``G_t`` the gradient
    of the logits ``b_t`` and ``gs_t`` that of ``s_t``, the gradient of ``û`` is
    ``Σ_t c_t gs_t + Σ_{t<r} G_{t+1} v_t``, formed in one batched product at the
    end; each iteration reads ``û`` once or twice (``û · gs_t`` for the coupling's
    gradient, ``Σ_i G_{t+1} û`` for that of ``v_t``). Asked for a graph of the
    gradient (``create_graph=True``), it differentiates the plain loop instead.
    """

    @staticmethod
    def forward(ctx, u_hat: Tensor, iterations: int):
        v, coupling, steps = _agree(u_hat, iterations)
        couplings, sums, capsules = zip(*steps, strict=True)
        # not the outputs themselves: the caller may change those in place
        couplings = (*couplings[:-1], coupling.clone())
        ctx.save_for_backward(u_hat, *couplings, *sums, *capsules[:-1])
        ctx.iterations = iterations
        return v, coupling

    @staticmethod
    def backward(ctx, grad_v: Tensor, grad_coupling: Tensor):
        u_hat, *saved = ctx.saved_tensors
        r = ctx.iterations
        if torch.is_grad_enabled():  # create_graph: second derivatives must be right
            return _plain_gradient(u_hat, r, grad_v, grad_coupling), None
        couplings, sums, capsules = saved[:r], saved[r : 2 * r], saved[2 * r :]
        batch, n_parents, n_children, dim = u_hat.shape
        flat = u_hat.reshape(batch * n_parents, n_children, dim)
        coefficients, vectors = [], []  # grad û = Σ_m coefficients[m] ⊗ vectors[m]
        grad_b_next = None  # G_{t+1}, the gradient of the logits after iteration t
        for t in reversed(range(r)):
            if t == r - 1:
                grad_v_t = grad_v if grad_v is not None else torch.zeros_like(sums[t])
            else:  # v_t fed b_{t+1} = b_t + û · v_t
                coefficients.append(grad_b_next)
                vectors.append(capsules[t])
                grad_v_t = _sum_over_children(grad_b_next, flat, sums[t].dtype)
            grad_s = _squash_backward(sums[t], grad_v_t)
            coefficients.append(couplings[t])
            vectors.append(grad_s)
            if t == 0:  # b_1 = 0 is a constant
                break
            grad_c = _dot_with_parents(flat, grad_s).to(couplings[t].dtype)
            if t == r - 1 and grad_coupling is not None:
                grad_c = grad_c + grad_coupling
            # softmax over parents (dim 1 here): G_t = G_{t+1} + c ⊙ (gc - Σ_j c gc)
            c = couplings[t]
            grad_b = c * (grad_c - (c * grad_c).sum(dim=1, keepdim=True))
            grad_b_next = grad_b if grad_b_next is None else grad_b_next + grad_b
        weights = torch.stack(coefficients, dim=2).to(u_hat.dtype)  # [B, J, M, I]
        outer = torch.stack(vectors, dim=2).to(u_hat.dtype)  # [B, J, M, D]
        grad_u_hat = torch.bmm(
            weights.view(batch * n_parents, -1, n_children).transpose(1, 2),
            outer.view(batch * n_parents, -1, dim),
        )
        return grad_u_hat.view(u_hat.shape), None


def _squash_backward(s: Tensor, grad_v: Tensor) -> Tensor:
    """Gradient of ``squash`` at the small ``s`` ``[B, J, D]``, by autograd on ``squash``."""
    with torch.enable_grad():
        s = s.detach().requires_grad_()
        (grad_s,) = torch.autograd.grad(squash(s), s, grad_v.to(s.dtype))
    return grad_s


def _plain_gradient(u_hat, iterations, grad_v, grad_coupling):
    """The gradient of the plain loop, with its graph (for second derivatives)."""
    v, coupling, _ = _agree(u_hat, iterations)
    outputs, grads = zip(
        *[(out, g) for out, g in ((v, grad_v), (coupling, grad_coupling)) if g is not None],
        strict=True,
    )
    return torch.autograd.grad(outputs, u_hat, grads, create_graph=True)[0]


def _dot_with_parents(flat: Tensor, parents: Tensor) -> Tensor:
    """``û_j|i · x_j`` for every child and parent, ``[B, J, I]`` in ``û``'s dtype, from
    ``û`` ``[B·J, I, D]`` and one vector ``x_j`` per parent ``[B, J, D]``."""
    batch, n_parents, dim = parents.shape
    product = torch.bmm(flat, parents.to(flat.dtype).reshape(batch * n_parents, dim, 1))
    return product.view(batch, n_parents, -1)


def _sum_over_children(weights: Tensor, flat: Tensor, dtype: torch.dtype) -> Tensor:
    """``Σ_i w_ij û_j|i``, ``[B, J, D]``, from weights ``[B, J, I]`` and ``û`` ``[B·J, I, D]``."""
    batch, n_parents, n_children = weights.shape
    product = torch.bmm(weights.to(flat.dtype).reshape(batch * n_parents, 1, n_children), flat)
    return product.view(batch, n_parents, -1).to(dtype)


ROUTINGS = {
    "dynamic": DynamicRouting,
    "self_attention": SelfAttentionRouting,
    "inverted_attention": InvertedAttentionRouting,
}


def make_routing(
    name: str, iterations: int, n_children: int, n_parents: int, dim: int = 16
) -> nn.Module:
    """Build the routing module called ``name``.

    Parameters
    ----------
    name : {"dynamic", "self_attention", "inverted_attention"}
    iterations : int
        Routing iterations (ignored by routings that run once).
    n_children, n_parents : int
        Numbers of child and parent capsules.
    dim : int, default=16
        Dimension of the parent capsules.

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
    return routing(iterations=iterations, n_children=n_children, n_parents=n_parents, dim=dim)
