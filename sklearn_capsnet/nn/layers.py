"""The capsule layers: primary capsules, class capsules and the decoder."""

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .functional import longest_capsule, squash
from .patch_conv import PatchConv2d

__all__ = [
    "PrimaryCapsules",
    "ClassCapsules",
    "Decoder",
    "UpsamplingDecoder",
    "mask_capsules",
    "class_capsule_init_std",
]

# Bounds on the starting class capsules, chosen by measurement (docs/benchmarks.md,
# "Class-capsule initialisation"): |s_j| of children at full length, and the gain of
# the routing's agreement feedback.
INIT_LENGTH = 1.0
INIT_FEEDBACK = 0.5


def class_capsule_init_std(
    n_children: int, n_parents: int, parent_dim: int, agreement: float | None = None
) -> float:
    """Standard deviation of the starting prediction weights ``W_ij``.

    The routings start with each child spread evenly over the parents
    (``c_ij ≈ 1/J``), so ``s_j = (1/J) Σ_i W_ij u_i``. With independent
    ``W_ij ~ N(0, σ²)`` its expected squared length is ``σ² D Σ_i |u_i|² / J²``,
    at most ``σ² D I / J²`` since a squashed child is shorter than 1. So
    ``σ <= INIT_LENGTH · J / sqrt(D · I)`` keeps ``|s_j|`` below ``INIT_LENGTH``
    however many children there are (128 for 8×8 digits, 1,152 for 28×28, 4,608
    for 64×64), also once the first optimiser steps have lengthened the child
    capsules (Adam takes them from about 0.13 to about 1 within five steps on
    28×28 images). A fixed ``1/sqrt(P)`` saturated every class capsule at 28×28.

    Routing then lengthens ``s_j`` by feeding agreement back: each child's own
    prediction agrees with the parent it helped form, which adds about
    ``σ² I / a · s_j`` per pass, where ``a`` is the routing's ``agreement``
    (``J`` for routing by agreement, ``sqrt(D)`` for self-attention). So also
    ``σ <= sqrt(INIT_FEEDBACK · a / I)``; it binds for many classes.

    Parameters
    ----------
    n_children : int
        Number of child (primary) capsules ``I``.
    n_parents : int
        Number of class capsules ``J``.
    parent_dim : int
        Their dimension ``D``.
    agreement : float or None, default=None
        The routing's agreement scale ``a``; None applies the length bound only.

    Returns
    -------
    float

    Examples
    --------
    >>> round(class_capsule_init_std(1152, 10, 16), 4)
    0.0737
    >>> round(class_capsule_init_std(1152, 10, 16, agreement=10), 4)
    0.0659
    """
    std = INIT_LENGTH * n_parents / (parent_dim * n_children) ** 0.5
    if agreement is not None:
        std = min(std, (INIT_FEEDBACK * agreement / n_children) ** 0.5)
    return std


class PrimaryCapsules(nn.Module):
    """A convolution whose output channels are grouped into squashed capsules.

    ``capsule_types`` groups of ``capsule_dim`` consecutive channels: a capsule
    is the ``capsule_dim`` channels of one type at one position, so the layer
    yields ``capsule_types * H' * W'`` capsules (1152 for the paper's 6×6×32).

    Parameters
    ----------
    in_channels : int
    capsule_types : int, default=32
    capsule_dim : int, default=8
    kernel_size : int or (int, int), default=9
    stride : int or (int, int), default=2

    Examples
    --------
    >>> import torch
    >>> layer = PrimaryCapsules(256, capsule_types=32, capsule_dim=8)
    >>> layer(torch.zeros(2, 256, 20, 20)).shape
    torch.Size([2, 1152, 8])
    """

    def __init__(
        self,
        in_channels: int,
        capsule_types: int = 32,
        capsule_dim: int = 8,
        kernel_size: int | tuple[int, int] = 9,
        stride: int | tuple[int, int] = 2,
    ) -> None:
        super().__init__()
        self.capsule_types = capsule_types
        self.capsule_dim = capsule_dim
        self.conv = PatchConv2d(in_channels, capsule_types * capsule_dim, kernel_size, stride)

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv(x)  # [B, T*P, H', W']
        batch, _, height, width = out.shape
        out = out.view(batch, self.capsule_types, self.capsule_dim, height, width)
        out = out.permute(0, 1, 3, 4, 2)  # [B, T, H', W', P]: one capsule per type and position
        return squash(out.reshape(batch, -1, self.capsule_dim))  # [B, T*H'*W', P]


class ClassCapsules(nn.Module):
    """One capsule per class, fed by every child capsule through routing.

    Each child ``i`` predicts each parent ``j`` as ``û_j|i = W_ij u_i``; all
    predictions come from one batched contraction with the shared weights
    ``W`` of shape ``[I, J, D, P]`` (no per-example copy), and ``routing`` turns
    them into the class capsules.

    ``W = scale * weight``: the parameter ``weight`` starts standard normal and
    the constant ``scale`` is :func:`class_capsule_init_std`, from the numbers of
    children (``I · k`` where ``k`` of those sharing a matrix may agree) and parents and
    the routing's ``agreement(n_parents, dim)`` scale when it has one. So however
    many children feed the class capsules, their starting inputs ``s_j`` stay
    short enough for the squash to have a slope, even once every child capsule is
    at full length.

    Keeping the scale out of the parameter also keeps training steps in
    proportion (the "equalized learning rate" of Karras et al. 2018, "Progressive
    Growing of GANs"): Adam moves each parameter by about the learning rate
    whatever its size, and the ``I`` children add their moves up in ``s_j``. On
    ``W`` itself one step would move ``s_j`` by about ``I · lr · sqrt(P) / J``,
    1.6 for 1,152 children and two classes, enough to pin every class capsule
    at full length after a few steps; on ``weight`` it moves ``scale`` times
    less.

    Parameters
    ----------
    in_capsules : int
        Number of child capsules ``I``.
    in_dim : int
        Their dimension ``P``.
    n_classes : int
        Number of class capsules ``J``.
    out_dim : int
        Their dimension ``D``.
    routing : nn.Module
        Maps ``û`` ``[B, I, J, D]`` to ``v`` ``[B, J, D]``; see :mod:`.routing`.
    transforms : int, default=None
        How many distinct matrices ``W_·j`` per parent: ``I`` (None, the paper's: one
        per child), or a divisor ``G`` of ``I``, the children taken in ``G`` runs of
        ``I / G`` consecutive ones that share a matrix: the primary capsules of one
        type (the number of types) or all of them (1; Gu and Tresp's Aff-CapsNets,
        "Improving the Robustness of Capsule Networks to Image Affine
        Transformations", CVPR 2020).
    agreeing : int, default=None
        How many of the children that share a matrix may be the same capsule at the
        start (the positions of one type on a blank background): their votes add up
        ``k`` times over, as ``k²`` independent children's would, so the starting
        scale counts ``I · k`` children. None: all that share it (``I / G``); 1 for
        the paper's matrices.

    Attributes
    ----------
    weight : nn.Parameter of shape (G, J, D, P)
        The trained weights, ``W`` divided by ``scale``; ``G = I`` unless shared.
    scale : float
        The constant factor of ``W``.

    Examples
    --------
    >>> import torch
    >>> from sklearn_capsnet.nn.routing import DynamicRouting
    >>> layer = ClassCapsules(1152, 8, 10, 16, DynamicRouting(3))
    >>> layer(torch.randn(2, 1152, 8)).shape
    torch.Size([2, 10, 16])
    >>> round(layer.scale, 4), layer.prediction_weight.shape
    (0.0659, torch.Size([1152, 10, 16, 8]))
    >>> ClassCapsules(1152, 8, 10, 16, DynamicRouting(3), transforms=32).weight.shape
    torch.Size([32, 10, 16, 8])
    """

    def __init__(
        self,
        in_capsules: int,
        in_dim: int,
        n_classes: int,
        out_dim: int,
        routing: nn.Module,
        transforms: int | None = None,
        agreeing: int | None = None,
    ) -> None:
        super().__init__()
        transforms = in_capsules if transforms is None else transforms
        if transforms < 1 or in_capsules % transforms:
            raise ValueError(
                f"transforms={transforms} must divide the {in_capsules} child capsules."
            )
        agreement = getattr(routing, "agreement", None)  # a routing may have no feedback
        if agreement is not None:
            agreement = agreement(n_classes, out_dim)
        self.in_capsules = in_capsules
        shared_by = in_capsules // transforms  # k = 1 for the paper's network
        agreeing = shared_by if agreeing is None else min(agreeing, shared_by)
        self.scale = class_capsule_init_std(in_capsules * agreeing, n_classes, out_dim, agreement)
        self.weight = nn.Parameter(torch.randn(transforms, n_classes, out_dim, in_dim))
        self.routing = routing

    @property
    def prediction_weight(self) -> Tensor:
        """The prediction matrices ``W_ij = scale * weight_ij``, ``[I, J, D, P]`` (shared
        ones repeated for each child that shares them)."""
        shared_by = self.in_capsules // self.weight.shape[0]
        return self.scale * self.weight.repeat_interleave(shared_by, dim=0)

    def predictions(self, u: Tensor) -> Tensor:
        """Child predictions ``û``: ``[B, I, P] -> [B, I, J, D]``.

        Stored parent-major (``[B, J, I, D]`` in memory, returned as a view): the
        routing's sums over children then read ``û`` without copying it first (CPU,
        bf16, 100 classes, ``benchmarks/bench_speed.py --scale-classes``: inference
        84 -> 169 images/s).
        """
        # W u = weight (scale u): scaling the children costs less than scaling W.
        groups = self.weight.shape[0]
        if groups == self.in_capsules:  # one matrix per child: the paper's
            u_hat = torch.einsum("ijdp,bip->bjid", self.weight, u * self.scale).contiguous()
        else:  # runs of consecutive children share a matrix
            runs = (u * self.scale).view(u.shape[0], groups, -1, u.shape[-1])  # [B, G, I/G, P]
            u_hat = torch.einsum("gjdp,bgkp->bjgkd", self.weight, runs).contiguous()
            u_hat = u_hat.view(u.shape[0], -1, self.in_capsules, u_hat.shape[-1])  # [B, J, I, D]
        return u_hat.permute(0, 2, 1, 3)  # [B, I, J, D]

    def forward(self, u: Tensor) -> Tensor:
        return self.routing(self.predictions(u))  # [B, J, D]

    def route(self, u: Tensor) -> tuple[Tensor, Tensor]:
        """Class capsules ``[B, J, D]`` and the routing's coupling ``[B, I, J]``."""
        return self.routing.route(self.predictions(u))


def mask_capsules(capsules: Tensor, labels: Tensor | None = None) -> Tensor:
    """Zero every class capsule except the labelled (or the longest) ones.

    Parameters
    ----------
    capsules : Tensor of shape (B, J, D)
    labels : Tensor of shape (B,) of class indices, or (B, J) of 0/1 indicators, optional
        Indicators keep every marked capsule (multilabel). When None, each example
        keeps its longest capsule (the prediction).

    Returns
    -------
    Tensor of shape (B, J * D)

    Examples
    --------
    >>> import torch
    >>> mask_capsules(torch.ones(1, 2, 2), torch.tensor([1]))
    tensor([[0., 0., 1., 1.]])
    """
    if labels is None:
        labels = longest_capsule(capsules)
    if labels.dim() == 2:
        keep = labels.to(capsules.dtype)  # [B, J]
    else:
        keep = torch.nn.functional.one_hot(labels, capsules.shape[1]).to(capsules.dtype)
    return (capsules * keep.unsqueeze(-1)).flatten(1)  # [B, J*D]


class Decoder(nn.Module):
    """Fully connected decoder from masked class capsules to pixels in [0, 1].

    Parameters
    ----------
    in_features : int
        ``J * D``, the flattened class capsules.
    out_features : int
        Number of values per example to reconstruct.
    hidden : sequence of int, default=(512, 1024)
        Sizes of the ReLU hidden layers; the output layer is a sigmoid.

    Examples
    --------
    >>> import torch
    >>> Decoder(160, 784)(torch.zeros(3, 160)).shape
    torch.Size([3, 784])
    """

    def __init__(
        self, in_features: int, out_features: int, hidden: Sequence[int] = (512, 1024)
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = in_features
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU(inplace=True)]
            width = size
        layers += [nn.Linear(width, out_features), nn.Sigmoid()]
        self.layers = nn.Sequential(*layers)

    def forward(self, masked: Tensor) -> Tensor:
        return self.layers(masked)  # [B, out_features]


SEED_CHANNELS = 16  # channels of the small map the upsampling decoder starts from
UPSAMPLING = 4  # its two transposed convolutions of stride 2


class UpsamplingDecoder(nn.Module):
    """Decoder whose size does not grow with the image: dense layers, then upsampling.

    The masked class capsules pass the fully connected ReLU layers of ``hidden``
    (as in :class:`Decoder`), then one more to a map of 16 channels at a quarter of
    the output size, which two 4×4 transposed convolutions of stride 2 (ReLU
    between) bring to ``out_shape``; a sigmoid gives values in [0, 1]. Its
    parameters depend on the output size only through that quarter-size map (16
    values per 4×4 pixels), not through every pixel of every channel.

    Parameters
    ----------
    in_features : int
        ``J * D``, the flattened class capsules.
    out_shape : (int, int, int)
        ``(C, h, w)`` of the images drawn.
    hidden : sequence of int, default=(512, 1024)
        Sizes of the fully connected ReLU layers before the map.

    Examples
    --------
    >>> import torch
    >>> decoder = UpsamplingDecoder(160, (3, 30, 32))
    >>> decoder(torch.zeros(2, 160)).shape  # 3 × 30 × 32 values per example
    torch.Size([2, 2880])
    """

    def __init__(
        self,
        in_features: int,
        out_shape: Sequence[int],
        hidden: Sequence[int] = (512, 1024),
    ) -> None:
        super().__init__()
        channels, height, width = (int(v) for v in out_shape)
        self.out_shape = (channels, height, width)
        self.seed_shape = (
            SEED_CHANNELS,
            math.ceil(height / UPSAMPLING),
            math.ceil(width / UPSAMPLING),
        )
        layers: list[nn.Module] = []
        features = in_features
        for size in (*hidden, math.prod(self.seed_shape)):
            layers += [nn.Linear(features, size), nn.ReLU(inplace=True)]
            features = size
        self.dense = nn.Sequential(*layers)
        self.upsample = nn.Sequential(
            nn.ConvTranspose2d(SEED_CHANNELS, SEED_CHANNELS, 4, stride=2, padding=1),
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(SEED_CHANNELS, channels, 4, stride=2, padding=1),
        )

    def forward(self, masked: Tensor) -> Tensor:
        seed = self.dense(masked).view(-1, *self.seed_shape)  # [B, 16, h/4, w/4]
        _, height, width = self.out_shape
        images = self.upsample(seed)[:, :, :height, :width]  # [B, C, h, w]
        return torch.sigmoid(images).flatten(1)  # [B, C*h*w]
