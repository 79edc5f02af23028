"""The CapsNet module, assembled from an input shape and hyper-parameters."""

from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import Tensor, nn

from .layers import ClassCapsules, Decoder, PrimaryCapsules, mask_capsules
from .patch_conv import PatchConv2d
from .routing import make_routing

__all__ = ["CapsNet", "Geometry", "geometry"]

PAPER_SIZE = 28  # the paper's kernels (9) and stride (2) are for 28-pixel inputs
PAPER_KERNEL = 9
PRIMARY_STRIDE = 2
MEMORY_FORMATS = ("contiguous", "channels_last")


class Geometry(NamedTuple):
    """Kernel sizes and the primary capsule grid for one input size."""

    conv_kernel: tuple[int, int]
    primary_kernel: tuple[int, int]
    grid: tuple[int, int]


def _scaled_kernel(size: int) -> int:
    return max(1, round(PAPER_KERNEL * size / PAPER_SIZE))


def geometry(height: int, width: int) -> Geometry:
    """Kernel sizes scaled from the paper's 9×9-on-28×28 to an input size.

    Both convolutions start from a kernel of ``round(9 * size / 28)`` per axis (at
    least 1), shrunk where needed so the primary capsule grid (stride 2) stays at
    least 1×1. Then every input position must reach a primary capsule:

    - a primary kernel of at least 2 wherever the grid has more than one position
      (a 1-wide kernel with stride 2 would skip every other one);
    - the primary windows must end on the last convolution output: where they would
      stop one short, the first kernel grows by one. This applies to every even
      size, 28 included: the paper's 9×9 kernels read 27 of the 28 rows and columns
      (the primary windows cover convolution outputs 0-18 of 20). Here 28×28 has a
      10×10 first kernel, the same 6×6 grid of capsules, and 4,864 parameters more
      than the paper's 8,215,568.

    1×1 (tabular features as channels) gives 1×1 kernels.

    Parameters
    ----------
    height, width : int
        Input size, at least 1×1.

    Returns
    -------
    Geometry
        ``conv_kernel``, ``primary_kernel`` and the primary capsule ``grid``.

    Examples
    --------
    >>> geometry(28, 28)
    Geometry(conv_kernel=(10, 10), primary_kernel=(9, 9), grid=(6, 6))
    >>> geometry(8, 8)
    Geometry(conv_kernel=(4, 4), primary_kernel=(3, 3), grid=(2, 2))
    >>> geometry(2, 2)
    Geometry(conv_kernel=(1, 1), primary_kernel=(2, 2), grid=(1, 1))
    """
    if height < 1 or width < 1:
        raise ValueError(f"images must be at least 1x1, got {height}x{width}.")
    conv, primary, grid = [], [], []
    for size in (height, width):
        k1 = min(_scaled_kernel(size), size)
        after_conv = size - k1 + 1
        k2 = max(min(_scaled_kernel(size), after_conv), min(PRIMARY_STRIDE, after_conv))
        if (after_conv - k2) % PRIMARY_STRIDE:  # the last output would be skipped
            k1, after_conv = k1 + 1, after_conv - 1
        conv.append(k1)
        primary.append(k2)
        grid.append((after_conv - k2) // PRIMARY_STRIDE + 1)
    return Geometry(tuple(conv), tuple(primary), tuple(grid))


class CapsNet(nn.Module):
    """Capsule network of Sabour, Frosst & Hinton (2017) for any image size.

    Conv (ReLU) → primary capsules → class capsules (routing) → capsule vectors.
    :meth:`reconstruct` runs the masked decoder. Tabular data enters as
    ``(n_features, 1, 1)``: the convolutions become fully connected layers.

    Parameters
    ----------
    input_shape : (int, int, int)
        ``(channels, height, width)`` of one example.
    n_classes : int
        Number of class capsules.
    routing : {"dynamic", "self_attention"}, default="dynamic"
        Name of the routing algorithm (see :mod:`.routing`).
    routing_iterations : int, default=3
    conv_channels : int, default=256
    primary_types : int, default=32
        Number of primary capsule types (channels of capsules).
    primary_dim : int, default=8
    capsule_dim : int, default=16
        Dimension of the class capsules.
    decoder_hidden : sequence of int, default=(512, 1024)
    memory_format : {"contiguous", "channels_last"}, default="contiguous"
        How convolution inputs and weights lie in memory: ``"channels_last"`` is
        faster on recent GPUs. It changes no result, and it is not the layout of
        the data a user passes.

    Examples
    --------
    >>> import torch
    >>> net = CapsNet((1, 28, 28), 10)
    >>> sum(p.numel() for p in net.parameters())  # the paper's 8215568, a 10×10 first kernel
    8220432
    >>> capsules = net(torch.zeros(2, 1, 28, 28))
    >>> capsules.shape, net.reconstruct(capsules).shape
    (torch.Size([2, 10, 16]), torch.Size([2, 784]))
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        n_classes: int,
        routing: str = "dynamic",
        routing_iterations: int = 3,
        conv_channels: int = 256,
        primary_types: int = 32,
        primary_dim: int = 8,
        capsule_dim: int = 16,
        decoder_hidden: Sequence[int] = (512, 1024),
        memory_format: str = "contiguous",
    ) -> None:
        super().__init__()
        if memory_format not in MEMORY_FORMATS:
            raise ValueError(
                f"memory_format={memory_format!r} must be one of {', '.join(MEMORY_FORMATS)}."
            )
        self.channels_last = memory_format == "channels_last"
        channels, height, width = (int(v) for v in input_shape)
        self.input_shape = (channels, height, width)
        self.geometry = geometry(height, width)
        self.conv = nn.Sequential(
            PatchConv2d(channels, conv_channels, self.geometry.conv_kernel),
            nn.ReLU(inplace=True),
        )
        self.primary = PrimaryCapsules(
            conv_channels,
            primary_types,
            primary_dim,
            self.geometry.primary_kernel,
            stride=PRIMARY_STRIDE,
        )
        n_primary = primary_types * self.geometry.grid[0] * self.geometry.grid[1]
        self.classes = ClassCapsules(
            n_primary,
            primary_dim,
            n_classes,
            capsule_dim,
            make_routing(routing, routing_iterations, n_children=n_primary, n_parents=n_classes),
        )
        self.decoder = Decoder(n_classes * capsule_dim, channels * height * width, decoder_hidden)
        if self.channels_last:
            self.to(memory_format=torch.channels_last)  # the convolution weights

    @property
    def n_primary(self) -> int:
        """Number of primary capsules: capsule types × primary grid positions."""
        return self.classes.weight.shape[0]

    def forward(self, x: Tensor) -> Tensor:
        return self.classes(self._primary_capsules(x))  # [B, J, D]

    def _primary_capsules(self, x: Tensor) -> Tensor:
        x = x.reshape(x.shape[0], *self.input_shape)  # [B, C, H, W] (flat rows accepted)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.primary(self.conv(x))  # [B, I, P]

    def route(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Class capsules ``[B, J, D]`` and the routing's coupling ``[B, I, J]``.

        Primary capsule ``i`` is type ``t`` at grid position ``(h, w)`` with
        ``i = (t * grid_h + h) * grid_w + w`` (see :meth:`receptive_fields`). For
        dynamic routing the coupling is the last iteration's ``c``, each row summing
        to 1 over the classes; for self-attention routing, ``c + b`` (see
        :class:`~sklearn_capsnet.nn.SelfAttentionRouting`).

        Examples
        --------
        >>> import torch
        >>> net = CapsNet((1, 28, 28), 10)
        >>> capsules, coupling = net.route(torch.zeros(2, 1, 28, 28))
        >>> coupling.shape  # 32 types × 6 × 6 positions
        torch.Size([2, 1152, 10])
        """
        return self.classes.route(self._primary_capsules(x))

    def receptive_fields(self) -> Tensor:
        """Which input pixels each primary capsule position reads: ``[gh, gw, H, W]`` bool.

        Position ``(h, w)`` of the ``grid`` reads the rows ``2h`` to ``2h + k1 + k2 - 2``
        (``k1``, ``k2`` the two kernels, stride 2) and likewise the columns; every type
        at one position reads the same pixels.

        Examples
        --------
        >>> fields = CapsNet((1, 8, 8), 3).receptive_fields()
        >>> fields.shape, fields[0, 0].sum().item()  # 2×2 grid; 6×6 pixels each
        (torch.Size([2, 2, 8, 8]), 36)
        """
        _, height, width = self.input_shape
        axes = []
        kernels = zip(self.geometry.conv_kernel, self.geometry.primary_kernel, strict=True)
        for size, (k1, k2), cells in zip(
            (height, width), kernels, self.geometry.grid, strict=True
        ):
            start = torch.arange(cells) * PRIMARY_STRIDE
            pixel = torch.arange(size)
            axes.append((pixel >= start[:, None]) & (pixel < start[:, None] + k1 + k2 - 1))
        rows, cols = axes  # [gh, H], [gw, W]
        return rows[:, None, :, None] & cols[None, :, None, :]

    def reconstruct(self, capsules: Tensor, labels: Tensor | None = None) -> Tensor:
        """Decode the capsule of ``labels`` (or of the predicted class): ``[B, C*H*W]``."""
        return self.decoder(mask_capsules(capsules, labels))
