"""Front ends: images larger than the capsules need brought to the working size.

The sizing rule starts from the capsules, not from the pixels. After the paper's
two 9×9 convolutions (the second of stride 2) a side of ``s`` pixels gives a grid
of ``(s - 16) // 2 + 1`` primary capsule positions (one less for even sides, whose
first kernel grows to 10 so that no row is skipped: :func:`~.capsnet.geometry`).
The paper had 6×6 at 28×28 and 12×12 at 40×40. The grid grows with the side;
``primary_grid`` caps it, and past 10×10 the primary capsule types shrink
(:func:`~.sizing.capsule_types`) so the class capsules' weights do not grow with it.
A side of at most :func:`working_limit` pixels (``2 * primary_grid + 16``) is read
as it is; the default cap (:func:`~.sizing.grid_cap`) is 10 (36 pixels) for images
up to 77 pixels, grows to 14 (44 pixels) at 96 and to 20 (56 pixels) at 216. A longer
side is brought to exactly that
working size, whatever its length, by a reduction that need not be a power of two:
the learned front ends halve it while it stays at least the working size, then an
area resampling (:class:`AreaResample`) takes the rest of the way. Above the
working size the network after the front end is therefore the same at every size,
so parameters do not jump with the side and the cost grows only with the front
end's cheap first stages.

A front end is a module with ``output_shape`` ``(C', h, w)`` and ``input_span``,
the input pixels a range of working positions reads. Adding one means one such
module here and one entry in :data:`FRONT_ENDS`.
"""

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .sizing import PRIMARY_GRID, grid_cap, working_limit, working_size

__all__ = [
    "FRONT_ENDS",
    "AreaResample",
    "AreaResize",
    "SpaceToDepth",
    "StridedConvolutions",
    "Unchanged",
    "area_resize",
    "halvings",
    "make_front_end",
    "side_halvings",
]

# What the learned front ends hand to the first convolution. 16 rather than 32: as
# accurate in the measurements (docs/benchmarks.md, "Large images"), and cheaper.
FRONT_CHANNELS = 16


def halvings(size: int, limit: int) -> int:
    """How many learned halvings (rounding up) a side of ``size`` pixels takes: as many
    as leave it at least ``limit`` pixels. The area resampling does the rest.

    Examples
    --------
    >>> [halvings(size, 36) for size in (28, 36, 70, 71, 140, 141, 224, 280, 281)]
    [0, 0, 0, 1, 1, 2, 2, 2, 3]
    """
    if size < 1 or limit < 2:
        raise ValueError(f"a side must be at least 1 pixel and the limit 2, got {size}, {limit}.")
    count = 0
    while -(-size // 2) >= limit:
        size, count = -(-size // 2), count + 1
    return count


def side_halvings(input_shape: Sequence[int], primary_grid: int | str = PRIMARY_GRID) -> list[int]:
    """:func:`halvings` of each side of images of ``input_shape`` ``(C, H, W)`` towards the
    working size of ``primary_grid``.

    Examples
    --------
    >>> side_halvings((3, 128, 64)), side_halvings((1, 40, 40))
    ([1, 0], [0, 0])
    """
    limit = working_limit(grid_cap(*input_shape[1:], primary_grid))
    return [halvings(int(size), limit) for size in input_shape[1:]]


@lru_cache(maxsize=64)
def _area_weights(size_in: int, size_out: int) -> np.ndarray:
    """``[size_out, size_in]`` float64: output cell ``i`` covers the input interval
    ``[i * r, (i + 1) * r)`` with ``r = size_in / size_out``; each weight is the share
    of that interval lying on one input pixel (rows sum to 1)."""
    ratio = size_in / size_out
    weights = np.zeros((size_out, size_in))
    for i in range(size_out):
        start, stop = i * ratio, (i + 1) * ratio
        for j in range(math.floor(start), min(size_in, math.ceil(stop))):
            weights[i, j] = (min(stop, j + 1) - max(start, j)) / ratio
    weights[weights < 1e-12] = 0.0
    weights.setflags(write=False)
    return weights


def area_resize(x: Tensor, size: Sequence[int]) -> Tensor:
    """``x`` ``[B, C, H, W]`` area-resampled to ``size`` ``(h, w)``: each output pixel is
    the mean of the input area under it, with pixels cut by its border counted in
    proportion (any ratio; whole blocks of pixels averaged where it is an integer).

    Examples
    --------
    >>> import torch
    >>> area_resize(torch.arange(6.0).view(1, 1, 1, 6), (1, 4))  # cells of 1.5 pixels
    tensor([[[[0.3333, 1.6667, 3.3333, 4.6667]]]])
    """
    if tuple(x.shape[-2:]) == tuple(int(v) for v in size):
        return x
    return AreaResample(x.shape[-2:], size).to(x.device)(x)  # [B, C, h, w]


class AreaResample(nn.Module):
    """Area resampling from ``size_in`` to ``size_out`` ``(h, w)``, as two matrix products.

    The weights of :func:`area_resize`, kept as buffers that move with the module
    (to a device, to a precision) and are not saved with the weights; two matrix
    products, so it exports to ONNX as plain ``MatMul`` nodes.

    Examples
    --------
    >>> import torch
    >>> AreaResample((72, 40), (36, 36))(torch.ones(2, 16, 72, 40)).shape
    torch.Size([2, 16, 36, 36])
    """

    def __init__(self, size_in: Sequence[int], size_out: Sequence[int]) -> None:
        super().__init__()
        self.size_in = tuple(int(v) for v in size_in)
        self.size_out = tuple(int(v) for v in size_out)
        for name, n_in, n_out in zip(("rows", "cols"), self.size_in, self.size_out, strict=True):
            weights = torch.tensor(_area_weights(n_in, n_out))  # float64: cast in forward
            self.register_buffer(name, weights, persistent=False)  # [out, in]

    def forward(self, x: Tensor) -> Tensor:
        rows, cols = self.rows.to(x.dtype), self.cols.to(x.dtype)
        return rows @ x @ cols.T  # [B, C, h, w]

    def input_span(self, axis: int, first: int, last: int) -> tuple[int, int]:
        """The input pixels (first, last, inclusive) under output positions first..last."""
        weights = _area_weights(self.size_in[axis], self.size_out[axis])
        return int(np.flatnonzero(weights[first])[0]), int(np.flatnonzero(weights[last])[-1])


class _FrontEnd(nn.Module):
    """What every front end knows: the input shape, the working size, the output shape."""

    def __init__(
        self, input_shape: Sequence[int], out_channels: int, primary_grid: int | str = PRIMARY_GRID
    ) -> None:
        super().__init__()
        channels, height, width = (int(v) for v in input_shape)
        self.input_shape = (channels, height, width)
        self.output_shape = (out_channels, *working_size(height, width, primary_grid))

    def input_span(self, axis: int, first: int, last: int) -> tuple[int, int]:
        """The input pixels (first, last, inclusive) that working positions
        ``first..last`` of ``axis`` (0: rows, 1: columns) read."""
        for step in reversed(self._steps()):
            first, last = step(axis, first, last)
        return first, last

    def _steps(self) -> list:
        """``input_span`` of each stage, from the input to the working map."""
        raise NotImplementedError


def _halved(size: int, count: int) -> int:
    for _ in range(count):
        size = -(-size // 2)
    return size


class Unchanged(_FrontEnd):
    """The identity: the image is the working map (no side over the working size, or
    scaled kernels).

    Examples
    --------
    >>> Unchanged((3, 32, 32)).output_shape
    (3, 32, 32)
    """

    def __init__(self, input_shape: Sequence[int]) -> None:
        super().__init__(input_shape, int(input_shape[0]))
        self.output_shape = self.input_shape

    def forward(self, x: Tensor) -> Tensor:
        return x

    def input_span(self, axis: int, first: int, last: int) -> tuple[int, int]:
        return first, last


class StridedConvolutions(_FrontEnd):
    """Learned reduction: 3×3 convolutions (zero padding 1), each with a BatchNorm and a
    ReLU, then an area resampling to the working size.

    A stage halves each side (stride 2) that stays at least the working size; the
    more often halved side sets the number of stages, and a side halved fewer
    times takes stride 1 in the stages beyond its own. :class:`AreaResample` takes
    what remains (a ratio under 2). Every stage has 16 channels. Where no side can
    be halved (under twice the working size: 37 to 70 pixels by default) there is
    no stage, only the resampling, as with ``"resize"``: a learned stage of stride 1
    there cost 0.9 to 3.9 points of Fashion-MNIST accuracy at 40 px (three seeds)
    and 2.3 at 64 px (docs/benchmarks.md, "Image sizes"). The 3-wide windows
    overlap, so every pixel reaches the working map, and detail finer than the
    working size (a grating of period 2) can be told apart before the image is
    shrunk. The BatchNorm normalises each channel: in
    training with its batch's statistics (whatever the images' contrast), in
    evaluation (``predict``, ``transform``, the displays) with the running ones
    gathered then, so a prediction depends on its own example alone and each
    position only on the pixels under its windows (:meth:`input_span`). Without it
    the network learnt Fashion-MNIST upsampled to 56×56 about three points worse
    (docs/benchmarks.md, "Large images").

    Examples
    --------
    >>> import torch
    >>> front = StridedConvolutions((3, 128, 64))  # rows 128 → 64 → 44, columns 64 → 44
    >>> front.output_shape
    (16, 44, 44)
    >>> front(torch.zeros(2, 3, 128, 64)).shape
    torch.Size([2, 16, 44, 44])
    """

    def __init__(self, input_shape: Sequence[int], primary_grid: int | str = PRIMARY_GRID) -> None:
        counts = side_halvings(input_shape, primary_grid)
        channels = FRONT_CHANNELS if max(counts) else int(input_shape[0])
        super().__init__(input_shape, channels, primary_grid)
        self.strides = [
            tuple(2 if stage < count else 1 for count in counts) for stage in range(max(counts))
        ]
        stages: list[nn.Module] = []
        channels = self.input_shape[0]
        for stride in self.strides:
            stages += [
                nn.Conv2d(channels, FRONT_CHANNELS, 3, stride=stride, padding=1),
                nn.BatchNorm2d(FRONT_CHANNELS),
                nn.ReLU(inplace=True),
            ]
            channels = FRONT_CHANNELS
        self.stages = nn.Sequential(*stages)
        halved = [
            _halved(size, count) for size, count in zip(input_shape[1:], counts, strict=True)
        ]
        self.resample = AreaResample(halved, self.output_shape[1:])

    def forward(self, x: Tensor) -> Tensor:
        return self.resample(self.stages(x))  # [B, C', h, w]

    def _steps(self) -> list:
        sizes = [list(self.input_shape[1:])]
        for stride in self.strides:
            sizes.append(
                [_halved(size, s == 2) for size, s in zip(sizes[-1], stride, strict=True)]
            )

        def stage(index):
            def span(axis, first, last):  # position p reads s·p - 1 .. s·p + 1
                s, size = self.strides[index][axis], sizes[index][axis]
                return max(0, s * first - 1), min(size - 1, s * last + 1)

            return span

        return [stage(i) for i in range(len(self.strides))] + [self.resample.input_span]


class SpaceToDepth(_FrontEnd):
    """Each ``2^kh × 2^kw`` block of pixels becomes one position, mixed to 16 channels,
    then an area resampling to the working size.

    Space to depth followed by a learned linear map, computed as one convolution
    whose kernel and stride are the block (the "patchify" stem of ConvNeXt), then a
    ReLU. The blocks halve each side as often as it stays at least the working size
    (1×1 blocks, a linear map of the channels, where no side can be halved). Sides
    that the block does not divide are padded with zeros at the end. Blocks do not
    overlap: each pixel is read by one position.

    Examples
    --------
    >>> import torch
    >>> front = SpaceToDepth((1, 100, 100))  # blocks of 2×2, then 50 → 44
    >>> front.output_shape, front(torch.zeros(2, 1, 100, 100)).shape
    ((16, 44, 44), torch.Size([2, 16, 44, 44]))
    """

    def __init__(self, input_shape: Sequence[int], primary_grid: int | str = PRIMARY_GRID) -> None:
        super().__init__(input_shape, FRONT_CHANNELS, primary_grid)
        self.factors = tuple(2**count for count in side_halvings(input_shape, primary_grid))
        blocked = [
            -(-size // f) for size, f in zip(self.input_shape[1:], self.factors, strict=True)
        ]
        self.padding = tuple(
            out * f - size
            for out, f, size in zip(blocked, self.factors, self.input_shape[1:], strict=True)
        )
        self.blocks = nn.Conv2d(
            self.input_shape[0], FRONT_CHANNELS, self.factors, stride=self.factors
        )
        self.resample = AreaResample(blocked, self.output_shape[1:])

    def forward(self, x: Tensor) -> Tensor:
        x = F.pad(x, (0, self.padding[1], 0, self.padding[0]))  # [B, C, h·fh, w·fw]
        return self.resample(torch.relu(self.blocks(x)))  # [B, C', h, w]

    def _steps(self) -> list:
        def blocks(axis, first, last):
            factor, size = self.factors[axis], self.input_shape[1 + axis]
            return factor * first, min(size - 1, factor * last + factor - 1)

        return [blocks, self.resample.input_span]


class AreaResize(_FrontEnd):
    """No learning: the image area-resampled to the working size (anti-aliased).

    Detail finer than a working pixel is lost before the network sees it.

    Examples
    --------
    >>> import torch
    >>> front = AreaResize((3, 64, 64))
    >>> front(torch.ones(1, 3, 64, 64)).shape, front.output_shape
    (torch.Size([1, 3, 36, 36]), (3, 36, 36))
    """

    def __init__(self, input_shape: Sequence[int], primary_grid: int | str = PRIMARY_GRID) -> None:
        super().__init__(input_shape, int(input_shape[0]), primary_grid)
        self.resample = AreaResample(self.input_shape[1:], self.output_shape[1:])

    def forward(self, x: Tensor) -> Tensor:
        return self.resample(x)  # [B, C, h, w]

    def _steps(self) -> list:
        return [self.resample.input_span]


FRONT_ENDS = {
    "conv": StridedConvolutions,
    "space_to_depth": SpaceToDepth,
    "resize": AreaResize,
    "scaled_kernels": Unchanged,
}


def make_front_end(
    name: str, input_shape: Sequence[int], primary_grid: int | str = PRIMARY_GRID
) -> _FrontEnd:
    """The front end called ``name`` for images of ``input_shape`` ``(C, H, W)``.

    Where no side is longer than the working size (:func:`working_size` of
    ``primary_grid``), every front end is :class:`Unchanged`; ``"scaled_kernels"`` always is (the
    convolutions then scale their kernels with the whole image).

    Examples
    --------
    >>> make_front_end("conv", (1, 36, 36))
    Unchanged()
    >>> make_front_end("resize", (3, 64, 48)).output_shape
    (3, 36, 36)
    >>> make_front_end("resize", (3, 64, 48), primary_grid=6).output_shape
    (3, 28, 28)
    """
    if name not in FRONT_ENDS:
        raise ValueError(f"unknown front end {name!r}; choose one of {', '.join(FRONT_ENDS)}.")
    _, height, width = input_shape
    if name == "scaled_kernels" or (height, width) == working_size(height, width, primary_grid):
        return Unchanged(input_shape)
    return FRONT_ENDS[name](input_shape, primary_grid)
