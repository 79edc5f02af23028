"""The CapsNet module, assembled from an input shape and hyper-parameters."""

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .front_end import AreaResample, make_front_end
from .layers import ClassCapsules, Decoder, PrimaryCapsules, UpsamplingDecoder, mask_capsules
from .patch_conv import PatchConv2d
from .routing import make_routing
from .sizing import (
    PAPER_CHANNELS,
    PAPER_SIZE,
    PAPER_TYPES,
    PRIMARY_GRID,
    PRIMARY_STRIDE,
    Geometry,
    capsule_types,
    conv_width,
    geometry,
    grid_cap,
)

__all__ = ["CapsNet", "Geometry", "geometry"]  # the last two from .sizing

MEMORY_FORMATS = ("contiguous", "channels_last")
SHARED_TRANSFORMS = ("none", "positions", "all")
"""``share_transforms``: which primary capsules share a prediction matrix per class."""


class CapsNet(nn.Module):
    """Capsule network of Sabour, Frosst & Hinton (2017) for any image size.

    Front end → conv (ReLU) → primary capsules → class capsules (routing) → capsule
    vectors. :meth:`reconstruct` runs the masked decoder. Tabular data enters as
    ``(n_features, 1, 1)``: the convolutions become fully connected layers.

    Images with no side over ``2 * primary_grid + 16`` pixels (36 by default up to 77
    pixels, 44 from 96, 56 from 216: :func:`~.sizing.grid_cap`) are read
    as they are, with the paper's kernels (scaled down below 28 pixels,
    :func:`geometry`), so the primary capsule grid grows with the side up to
    ``primary_grid``. A larger image first passes the front end (:mod:`.front_end`),
    which brings each longer side to exactly that working size: the layers after it
    are those of an image of that size, the same for every larger image. Up to 28×28
    the decoder draws every input value through fully connected layers (the
    paper's); above, it draws the image at the working size (:class:`UpsamplingDecoder`), and
    :meth:`to_input_size` brings its drawings back to the input's size.

    Parameters
    ----------
    input_shape : (int, int, int)
        ``(channels, height, width)`` of one example.
    n_classes : int
        Number of class capsules.
    routing : {"dynamic", "self_attention", "inverted_attention"}, default="dynamic"
        Name of the routing algorithm (see :mod:`.routing`).
    routing_iterations : int, default=3
    conv_channels : int or "auto", default="auto"
        Channels of the first convolution; ``"auto"``: 256 up to a 10×10 grid,
        eight per automatic type beyond (:func:`~.sizing.conv_width`); 256 with
        ``"scaled_kernels"``.
    primary_types : int or "auto", default="auto"
        Number of primary capsule types (channels of capsules); ``"auto"``: 32 up to
        a 10×10 grid, fewer on larger grids, at most 3,200 primary capsules
        (:func:`~.sizing.capsule_types`); 32 with ``"scaled_kernels"``.
    primary_dim : int, default=8
    capsule_dim : int, default=16
        Dimension of the class capsules.
    decoder_hidden : sequence of int, default=(512, 1024)
    memory_format : {"contiguous", "channels_last"}, default="contiguous"
        How convolution inputs and weights lie in memory: ``"channels_last"`` is
        faster on recent GPUs. It changes no result, and it is not the layout of
        the data a user passes.
    front_end : {"conv", "space_to_depth", "resize", "scaled_kernels"}, default="conv"
        How images with a side over the working size reach it (see
        :mod:`.front_end`); ``"scaled_kernels"`` has no front end and scales the
        kernels (and the fully connected decoder) with the whole image.
    primary_grid : int or "auto", default="auto"
        The most primary capsule positions along a side: sides over
        ``2 * primary_grid + 16`` pixels pass the front end; ``"auto"``: 10 up to 77
        pixels, 14 from 96 to 175, 20 from 216 (:func:`~.sizing.grid_cap`). Ignored with
        ``"scaled_kernels"``.
    share_transforms : {"none", "positions", "all"}, default="none"
        Which primary capsules share each class's prediction matrix ``W_ij``:
        ``"none"``, one per primary capsule (the paper's); ``"positions"``, the
        capsules of one type at every grid position, so a part votes alike wherever
        it is; ``"all"``, every primary capsule (Gu and Tresp's Aff-CapsNets, CVPR
        2020). See :class:`~.layers.ClassCapsules`.
    resolved : dict, optional
        What ``"auto"`` gave ``primary_grid``, ``conv_channels`` and ``primary_types``
        when a saved network was built (its :attr:`resolved`): each replaces its
        argument where that is ``"auto"``, so a network saved under other ``"auto"``
        rules is rebuilt as it was.

    Attributes
    ----------
    resolved : dict
        The ``primary_grid`` (the cap on each side of the grid), ``conv_channels`` and
        ``primary_types`` this network was built with, as ints.

    Examples
    --------
    >>> import torch
    >>> net = CapsNet((1, 28, 28), 10)
    >>> sum(p.numel() for p in net.parameters())  # the paper's 8215568, a 10×10 first kernel
    8220432
    >>> capsules = net(torch.zeros(2, 1, 28, 28))
    >>> capsules.shape, net.reconstruct(capsules).shape
    (torch.Size([2, 10, 16]), torch.Size([2, 784]))
    >>> CapsNet((3, 224, 224), 10).describe().split(", ")[:4:3]  # a front end to 56×56
    ['224x224x3: front end "conv" to 56x56x16', '20x20x8 primary capsules']
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        n_classes: int,
        routing: str = "dynamic",
        routing_iterations: int = 3,
        conv_channels: int | str = "auto",
        primary_types: int | str = "auto",
        primary_dim: int = 8,
        capsule_dim: int = 16,
        decoder_hidden: Sequence[int] = (512, 1024),
        memory_format: str = "contiguous",
        front_end: str = "conv",
        primary_grid: int | str = PRIMARY_GRID,
        share_transforms: str = "none",
        resolved: dict | None = None,
    ) -> None:
        super().__init__()
        if resolved:  # a saved network: its sizes, whatever "auto" gives now
            primary_grid, conv_channels, primary_types = (
                resolved[name] if value == "auto" else value
                for name, value in (
                    ("primary_grid", primary_grid),
                    ("conv_channels", conv_channels),
                    ("primary_types", primary_types),
                )
            )
        if share_transforms not in SHARED_TRANSFORMS:
            raise ValueError(
                f"share_transforms={share_transforms!r} must be one of "
                f"{', '.join(SHARED_TRANSFORMS)}."
            )
        if memory_format not in MEMORY_FORMATS:
            raise ValueError(
                f"memory_format={memory_format!r} must be one of {', '.join(MEMORY_FORMATS)}."
            )
        self.channels_last = memory_format == "channels_last"
        channels, height, width = (int(v) for v in input_shape)
        self.input_shape = (channels, height, width)
        self.front_end = front_end
        self.front = make_front_end(front_end, self.input_shape, primary_grid)
        front_channels, *working = self.front.output_shape
        self.geometry = geometry(*working, scale_kernels=front_end == "scaled_kernels")
        if front_end == "scaled_kernels":  # the former network: the paper's widths at every size
            conv_channels = PAPER_CHANNELS if conv_channels == "auto" else conv_channels
            primary_types = PAPER_TYPES if primary_types == "auto" else primary_types
        conv_channels = conv_width(self.geometry.grid, conv_channels)
        primary_types = capsule_types(self.geometry.grid, primary_types)
        self.resolved = {
            "primary_grid": grid_cap(height, width, primary_grid),
            "conv_channels": conv_channels,
            "primary_types": primary_types,
        }
        self.conv = nn.Sequential(
            PatchConv2d(front_channels, conv_channels, self.geometry.conv_kernel),
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
            make_routing(
                routing,
                routing_iterations,
                n_children=n_primary,
                n_parents=n_classes,
                dim=capsule_dim,
            ),
            transforms={"none": None, "positions": primary_types, "all": 1}[share_transforms],
            agreeing=self.geometry.grid[0] * self.geometry.grid[1],  # one type's positions
        )
        if front_end == "scaled_kernels" or max(height, width) <= PAPER_SIZE:
            self.decoded_shape = self.input_shape
            self.decoder = Decoder(
                n_classes * capsule_dim, channels * height * width, decoder_hidden
            )
        else:  # drawn at the working size, whose side is at most 2 * primary_grid + 16
            self.decoded_shape = (channels, *working)
            self.decoder = UpsamplingDecoder(
                n_classes * capsule_dim, self.decoded_shape, decoder_hidden
            )
        # the decoder's target at the working size: the input area-resampled (weights built
        # once, moved with the module: no new tensor per training step)
        self.target_resample = (
            None
            if self.decoded_shape == self.input_shape
            else AreaResample(self.input_shape[1:], self.decoded_shape[1:])
        )
        if self.channels_last:
            self.to(memory_format=torch.channels_last)  # the convolution weights

    @property
    def n_primary(self) -> int:
        """Number of primary capsules: capsule types × primary grid positions."""
        return self.classes.in_capsules

    def forward(self, x: Tensor) -> Tensor:
        return self.classes(self._primary_capsules(x))  # [B, J, D]

    def _primary_capsules(self, x: Tensor) -> Tensor:
        x = x.reshape(x.shape[0], *self.input_shape)  # [B, C, H, W] (flat rows accepted)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.primary(self.conv(self.front(x)))  # [B, I, P]

    def route(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Class capsules ``[B, J, D]`` and the routing's coupling ``[B, I, J]``.

        Primary capsule ``i`` is type ``t`` at grid position ``(h, w)`` with
        ``i = (t * grid_h + h) * grid_w + w`` (see :meth:`receptive_fields`). For
        dynamic routing the coupling is the last iteration's ``c``, each row summing
        to 1 over the classes; for self-attention routing, ``c + b`` (see
        :class:`~sklearn_capsnet.nn.SelfAttentionRouting`); for inverted
        attention, the last pass's ``r``, each row summing to 1.

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
        of the working map (``k1``, ``k2`` the two kernels, stride 2), and likewise
        the columns; the front end's ``input_span`` turns those into input pixels
        (the same rows and columns where there is no front end). Every type at one
        position reads the same pixels.

        Examples
        --------
        >>> fields = CapsNet((1, 8, 8), 3).receptive_fields()
        >>> fields.shape, fields[0, 0].sum().item()  # 2×2 grid; 6×6 pixels each
        (torch.Size([2, 2, 8, 8]), 36)
        """
        _, height, width = self.input_shape
        axes = []
        kernels = zip(self.geometry.conv_kernel, self.geometry.primary_kernel, strict=True)
        for axis, (size, (k1, k2), cells) in enumerate(
            zip((height, width), kernels, self.geometry.grid, strict=True)
        ):
            pixel = torch.arange(size)
            field = torch.zeros(cells, size, dtype=torch.bool)
            for cell in range(cells):
                first, last = self.front.input_span(
                    axis, PRIMARY_STRIDE * cell, PRIMARY_STRIDE * cell + k1 + k2 - 2
                )
                field[cell] = (pixel >= first) & (pixel <= last)
            axes.append(field)
        rows, cols = axes  # [gh, H], [gw, W]
        return rows[:, None, :, None] & cols[None, :, None, :]

    def reconstruct(self, capsules: Tensor, labels: Tensor | None = None) -> Tensor:
        """Decode the capsule of ``labels`` (or of the predicted class): ``[B, C*h*w]``.

        At ``decoded_shape`` ``(C, h, w)``: the input's shape up to 28×28 (and for
        ``"scaled_kernels"``), the working size above; :meth:`to_input_size` brings
        it to the input's shape.
        """
        return self.decoder(mask_capsules(capsules, labels))

    def reconstruction_target(self, x: Tensor) -> Tensor:
        """What the decoder learns to draw from input ``x``: ``[B, C*h*w]``.

        The input itself where the decoder draws at the input's size; else the input
        area-resampled to the working size (:class:`.front_end.AreaResample`): each
        working pixel the mean of the input pixels under it.
        """
        x = x.reshape(x.shape[0], *self.input_shape)  # [B, C, H, W]
        if self.target_resample is not None:
            x = self.target_resample(x)  # [B, C, h, w]
        return x.flatten(1)  # [B, C*h*w]

    def to_input_size(self, decoded: Tensor) -> Tensor:
        """Decoder output ``[B, C*h*w]`` resized (bilinear) to the input's ``[B, C*H*W]``."""
        if self.decoded_shape == self.input_shape:
            return decoded
        images = decoded.reshape(decoded.shape[0], *self.decoded_shape)  # [B, C, h, w]
        size = self.input_shape[1:]
        return F.interpolate(images, size=size, mode="bilinear", align_corners=False).flatten(1)

    def describe(self) -> str:
        """One line on what was built: sizes, kernels, channels, capsules, decoder, parameters.

        Plain ASCII (``x`` for "by"), so that it prints on any console.

        Examples
        --------
        >>> CapsNet((1, 28, 28), 10).describe()
        '28x28x1: kernels 10x10 and 9x9, 256 channels, 6x6x32 primary capsules, \
10 class capsules, dense decoder at 28x28, 8,220,432 parameters'
        >>> CapsNet((5, 1, 1), 2).describe().split(", ")[-2]  # a table of 5 features
        'dense decoder to 5 features'
        >>> CapsNet((3, 40, 40), 10).describe().split(", ")[0]
        '40x40x3: front end "conv" to 36x36x3 (resampled only: no side to halve)'
        """
        channels, height, width = self.input_shape
        parts = [f"{height}x{width}x{channels}" if height * width > 1 else f"{channels} features"]
        front_channels, *working = self.front.output_shape
        if tuple(working) != (height, width):
            front = f'front end "{self.front_end}" to {working[0]}x{working[1]}x{front_channels}'
            if self.front_end != "resize" and not any(True for _ in self.front.parameters()):
                front += " (resampled only: no side to halve)"  # nothing learned before it
            parts.append(front)
        (kh1, kw1), (kh2, kw2) = self.geometry.conv_kernel, self.geometry.primary_kernel
        grid_h, grid_w = self.geometry.grid
        _, decoded_h, decoded_w = self.decoded_shape
        kind = "upsampling" if isinstance(self.decoder, UpsamplingDecoder) else "dense"
        parts += [
            f"kernels {kh1}x{kw1} and {kh2}x{kw2}",
            f"{self.conv[0].out_channels} channels",
            f"{grid_h}x{grid_w}x{self.primary.capsule_types} primary capsules",
            f"{self.classes.weight.shape[1]} class capsules",
            f"{kind} decoder at {decoded_h}x{decoded_w}"
            if decoded_h * decoded_w > 1
            else f"{kind} decoder to {self.decoded_shape[0]} features",
            f"{sum(p.numel() for p in self.parameters()):,} parameters",
        ]
        return f"{parts[0]}: " + ", ".join(parts[1:])
