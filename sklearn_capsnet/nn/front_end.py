"""Front ends: large images brought to the capsules' working size.

The paper's convolutions (9×9, then 9×9 with stride 2) are sized for 28×28 digits.
Scaling their kernels with the image makes one pass cost the side to the fourth
power and the parameters its square (186 M at 128×128×3). A front end instead
halves each side of a larger image until it is at most :data:`WORKING_LIMIT`
pixels, so the first convolution, the primary capsules and the class capsules
see a map of about the paper's size (a 224×224 image: 28×28) whatever the input
size. Sides of at most 32 pixels are left as they are: there every front end is
the identity and the network is the one for that size.

A front end is a module with ``output_shape`` ``(C', h, w)``, the ``factors``
``(2^kh, 2^kw)`` by which it shrinks each axis, and ``input_span``, the input
pixels a range of working positions reads. Adding one means one such module here
and one entry in :data:`FRONT_ENDS`.
"""

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

__all__ = [
    "FRONT_ENDS",
    "WORKING_LIMIT",
    "AreaResize",
    "SpaceToDepth",
    "StridedConvolutions",
    "Unchanged",
    "halvings",
    "make_front_end",
    "working_size",
]

WORKING_LIMIT = 32  # a side longer than this is halved until it is not
# What the learned front ends hand to the first convolution. 16 rather than 32: as
# accurate in the measurements (docs/benchmarks.md, "Large images"), and cheaper.
FRONT_CHANNELS = 16


def halvings(size: int) -> int:
    """How many times a front end halves a side of ``size`` pixels (rounding up).

    The fewest halvings that leave at most :data:`WORKING_LIMIT` pixels.

    Examples
    --------
    >>> [halvings(size) for size in (28, 32, 33, 64, 65, 128, 224, 256)]
    [0, 0, 1, 1, 2, 2, 3, 3]
    """
    if size < 1:
        raise ValueError(f"a side must be at least 1 pixel, got {size}.")
    count = 0
    while size > WORKING_LIMIT << count:
        count += 1
    return count


def working_size(height: int, width: int) -> tuple[int, int]:
    """The side lengths after the front end: each side divided by ``2^halvings``, rounded up.

    Examples
    --------
    >>> working_size(224, 224), working_size(128, 96), working_size(28, 300)
    ((28, 28), (32, 24), (28, 19))
    """
    return tuple(-(-size // 2 ** halvings(size)) for size in (height, width))


class _FrontEnd(nn.Module):
    """What every front end knows: the input shape, the halvings and the output shape."""

    def __init__(self, input_shape: Sequence[int], out_channels: int) -> None:
        super().__init__()
        channels, height, width = (int(v) for v in input_shape)
        self.input_shape = (channels, height, width)
        self.factors = tuple(2 ** halvings(size) for size in (height, width))
        self.output_shape = (out_channels, *working_size(height, width))

    def input_span(self, axis: int, first: int, last: int) -> tuple[int, int]:
        """The input pixels (first, last, inclusive) that working positions
        ``first..last`` of ``axis`` (0: rows, 1: columns) read."""
        factor, size = self.factors[axis], self.input_shape[1 + axis]
        return factor * first, min(size - 1, factor * last + factor - 1)


class Unchanged(_FrontEnd):
    """The identity: the image is the working map (sides of at most 32, or scaled kernels).

    Examples
    --------
    >>> Unchanged((3, 32, 32)).output_shape
    (3, 32, 32)
    """

    def __init__(self, input_shape: Sequence[int]) -> None:
        super().__init__(input_shape, int(input_shape[0]))
        self.factors = (1, 1)
        self.output_shape = self.input_shape

    def forward(self, x: Tensor) -> Tensor:
        return x


class StridedConvolutions(_FrontEnd):
    """Learned halvings: 3×3 convolutions of stride 2 (zero padding 1), each with a
    BatchNorm and a ReLU.

    One stage per halving of the more often halved side; an axis halved fewer times
    takes a 1-wide kernel and stride 1 in the stages beyond its own. Every stage has
    16 channels. The 3-wide windows overlap, so every pixel reaches the working map,
    and detail finer than the working size (a grating of period 2) can be told apart
    before the image is shrunk. The BatchNorm normalises each channel: in training
    with its batch's statistics (whatever the images' contrast), in evaluation
    (``predict``, ``transform``, the displays) with the running ones gathered then,
    so a prediction depends on its own example alone and each position only on the
    pixels under its windows (:meth:`input_span`). Without it the network learnt
    Fashion-MNIST upsampled to 56×56 about three points worse (docs/benchmarks.md,
    "Large images").

    Examples
    --------
    >>> import torch
    >>> front = StridedConvolutions((3, 128, 64))
    >>> front.output_shape, front.factors
    ((16, 32, 32), (4, 2))
    >>> front(torch.zeros(2, 3, 128, 64)).shape
    torch.Size([2, 16, 32, 32])
    """

    def __init__(self, input_shape: Sequence[int]) -> None:
        super().__init__(input_shape, FRONT_CHANNELS)
        counts = [halvings(size) for size in self.input_shape[1:]]
        stages: list[nn.Module] = []
        channels = self.input_shape[0]
        for stage in range(max(counts)):
            halved = [stage < count for count in counts]
            kernel = tuple(3 if h else 1 for h in halved)
            stages += [
                nn.Conv2d(
                    channels,
                    FRONT_CHANNELS,
                    kernel,
                    stride=tuple(2 if h else 1 for h in halved),
                    padding=tuple(1 if h else 0 for h in halved),
                ),
                nn.BatchNorm2d(FRONT_CHANNELS),
                nn.ReLU(inplace=True),
            ]
            channels = FRONT_CHANNELS
        self.stages = nn.Sequential(*stages)

    def forward(self, x: Tensor) -> Tensor:
        return self.stages(x)  # [B, C', h, w]

    def input_span(self, axis: int, first: int, last: int) -> tuple[int, int]:
        # each halving: position p reads 2p-1..2p+1 of the stage before
        factor, size = self.factors[axis], self.input_shape[1 + axis]
        return max(0, factor * first - factor + 1), min(size - 1, factor * last + factor - 1)


class SpaceToDepth(_FrontEnd):
    """Each ``2^kh × 2^kw`` block of pixels becomes one position, mixed to 16 channels.

    Space to depth followed by a learned linear map, computed as one convolution
    whose kernel and stride are the block (the "patchify" stem of ConvNeXt), then a
    ReLU. Sides that the block does not divide are padded with zeros at the end.
    Blocks do not overlap: each pixel is read by one position.

    Examples
    --------
    >>> import torch
    >>> front = SpaceToDepth((1, 100, 100))
    >>> front.output_shape, front(torch.zeros(2, 1, 100, 100)).shape
    ((16, 25, 25), torch.Size([2, 16, 25, 25]))
    """

    def __init__(self, input_shape: Sequence[int]) -> None:
        super().__init__(input_shape, FRONT_CHANNELS)
        self.padding = tuple(
            out * factor - size
            for out, factor, size in zip(
                self.output_shape[1:], self.factors, self.input_shape[1:], strict=True
            )
        )
        self.blocks = nn.Conv2d(
            self.input_shape[0], FRONT_CHANNELS, self.factors, stride=self.factors
        )

    def forward(self, x: Tensor) -> Tensor:
        x = F.pad(x, (0, self.padding[1], 0, self.padding[0]))  # [B, C, h·fh, w·fw]
        return torch.relu(self.blocks(x))  # [B, C', h, w]


class AreaResize(_FrontEnd):
    """No learning: each ``2^kh × 2^kw`` block of pixels is averaged (an anti-aliased resize).

    Blocks that run past the image's end average the pixels they hold. Detail finer
    than a block is lost before the network sees it.

    Examples
    --------
    >>> import torch
    >>> front = AreaResize((3, 64, 64))
    >>> front(torch.ones(1, 3, 64, 64)).shape, front.output_shape
    (torch.Size([1, 3, 32, 32]), (3, 32, 32))
    """

    def __init__(self, input_shape: Sequence[int]) -> None:
        super().__init__(input_shape, int(input_shape[0]))

    def forward(self, x: Tensor) -> Tensor:
        return area_average(x, self.factors)  # [B, C, h, w]


def area_average(x: Tensor, factors: tuple[int, int]) -> Tensor:
    """The mean of each ``factors`` block of ``x`` ``[B, C, H, W]``; partial blocks at
    the end average the pixels they hold. ``(1, 1)`` returns ``x``."""
    if tuple(factors) == (1, 1):
        return x
    return F.avg_pool2d(x, factors, factors, ceil_mode=True)


FRONT_ENDS = {
    "conv": StridedConvolutions,
    "space_to_depth": SpaceToDepth,
    "resize": AreaResize,
    "scaled_kernels": Unchanged,
}


def make_front_end(name: str, input_shape: Sequence[int]) -> _FrontEnd:
    """The front end called ``name`` for images of ``input_shape`` ``(C, H, W)``.

    Where no side is longer than :data:`WORKING_LIMIT`, every front end is
    :class:`Unchanged`; ``"scaled_kernels"`` always is (the convolutions then scale
    their kernels with the whole image).

    Examples
    --------
    >>> make_front_end("conv", (1, 28, 28))
    Unchanged()
    >>> make_front_end("resize", (3, 64, 48)).output_shape
    (3, 32, 24)
    """
    if name not in FRONT_ENDS:
        raise ValueError(f"unknown front end {name!r}; choose one of {', '.join(FRONT_ENDS)}.")
    _, height, width = input_shape
    if max(halvings(height), halvings(width)) == 0:
        return Unchanged(input_shape)
    return FRONT_ENDS[name](input_shape)
