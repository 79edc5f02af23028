"""The sizing rule: kernels, the primary capsule grid and the working size of a side.

Everything here is arithmetic on side lengths; :mod:`.front_end` and
:mod:`.capsnet` build modules from it.
"""

from functools import lru_cache
from typing import NamedTuple

__all__ = [
    "PRIMARY_CAPSULES",
    "PRIMARY_GRID",
    "Geometry",
    "capsule_types",
    "conv_width",
    "geometry",
    "grid_cap",
    "working_limit",
    "working_size",
]

PRIMARY_GRID = "auto"  # the default cap on each side of the primary capsule grid: grid_cap
# "auto": a cap of 10, one position more for every whole GROWS_EVERY pixels the longer side
# is past GROWS_FROM (11 from 78 pixels), at most 14 (from 96 pixels); then one more for
# every whole GROWS_AGAIN_EVERY pixels past GROWS_AGAIN_FROM (15 from 176), at most 20 (from
# 216). From 71 pixels, where the learned halvings begin, the working size grows more slowly
# than half the side, so every larger image is halved at least once.
AUTO_GRIDS = (10, 14, 20)
GROWS_FROM, GROWS_EVERY = 72, 6
GROWS_AGAIN_FROM, GROWS_AGAIN_EVERY = 168, 8
# The most primary capsules ``primary_types="auto"`` gives: 10×10×32, the 36-pixel network's.
PRIMARY_CAPSULES = 3200
PAPER_TYPES = 32
PAPER_CHANNELS = 256  # the first convolution's: 8 per type, as many as PrimaryCaps outputs

PAPER_SIZE = 28  # the paper's kernels (9) and stride (2) are for 28-pixel inputs
PAPER_KERNEL = 9
PRIMARY_STRIDE = 2


class Geometry(NamedTuple):
    """Kernel sizes and the primary capsule grid for one input size."""

    conv_kernel: tuple[int, int]
    primary_kernel: tuple[int, int]
    grid: tuple[int, int]


def _scaled_kernel(size: int) -> int:
    return max(1, round(PAPER_KERNEL * size / PAPER_SIZE))


def geometry(height: int, width: int, scale_kernels: bool = False) -> Geometry:
    """Kernel sizes and the primary capsule grid for a working map of ``height × width``.

    Up to 28 pixels both convolutions start from the paper's 9 scaled to the side,
    ``round(9 * size / 28)`` (at least 1); above it they stay the paper's 9, so the
    grid of primary capsules grows with the side as in the paper (6×6 at 28×28,
    12×12 at 40×40) — :mod:`.front_end` caps the side, and with it the grid. With
    ``scale_kernels`` they keep growing with the side instead (the former rule; the
    grid then stays about 6 to 8). Each kernel is shrunk where needed so the grid
    (stride 2) stays at least 1×1. Then every input position must reach a primary
    capsule:

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
        Working size, at least 1×1.
    scale_kernels : bool, default=False
        Scale the kernels with sides over 28 too.

    Returns
    -------
    Geometry
        ``conv_kernel``, ``primary_kernel`` and the primary capsule ``grid``.

    Examples
    --------
    >>> geometry(28, 28)
    Geometry(conv_kernel=(10, 10), primary_kernel=(9, 9), grid=(6, 6))
    >>> geometry(40, 35)
    Geometry(conv_kernel=(10, 9), primary_kernel=(9, 9), grid=(12, 10))
    >>> geometry(40, 40, scale_kernels=True).grid
    (8, 8)
    >>> geometry(8, 8)
    Geometry(conv_kernel=(4, 4), primary_kernel=(3, 3), grid=(2, 2))
    >>> geometry(2, 2)
    Geometry(conv_kernel=(1, 1), primary_kernel=(2, 2), grid=(1, 1))
    """
    if height < 1 or width < 1:
        raise ValueError(f"images must be at least 1x1, got {height}x{width}.")
    conv, primary, grid = zip(
        *(_axis(size, scale_kernels) for size in (height, width)), strict=True
    )
    return Geometry(conv, primary, grid)


def _axis(size: int, scale_kernels: bool = False) -> tuple[int, int, int]:
    """The first kernel, the primary kernel and the grid along one side (see :func:`geometry`)."""
    kernel = _scaled_kernel(size) if scale_kernels else min(PAPER_KERNEL, _scaled_kernel(size))
    k1 = min(kernel, size)
    after_conv = size - k1 + 1
    k2 = max(min(kernel, after_conv), min(PRIMARY_STRIDE, after_conv))
    if (after_conv - k2) % PRIMARY_STRIDE:  # the last output would be skipped
        k1, after_conv = k1 + 1, after_conv - 1
    return k1, k2, (after_conv - k2) // PRIMARY_STRIDE + 1


def capsule_types(grid: tuple[int, int], types: int | str = "auto") -> int:
    """The number of primary capsule types on a ``grid`` of positions.

    ``"auto"``: the paper's 32 while the grid has at most 100 positions (every image
    up to 77 pixels under the default :func:`grid_cap`, 28×28 included), then as many
    as keep the primary capsules at most
    :data:`PRIMARY_CAPSULES` (3,200, the 10×10×32 of a 36-pixel image): 22 on 12×12,
    16 on 14×14, 8 on 20×20. The class capsules' weights, one 8×16 matrix per primary capsule and
    class, then stay those of a 10×10 grid while the grid grows, so that an object
    small on a large canvas still spans several positions. An int is taken as it is.

    Examples
    --------
    >>> [capsule_types((g, g)) for g in (1, 6, 10, 11, 12, 14, 20)]
    [32, 32, 32, 26, 22, 16, 8]
    >>> capsule_types((14, 14), 32)
    32
    """
    if types != "auto":
        return int(types)
    positions = int(grid[0]) * int(grid[1])
    return max(1, min(PAPER_TYPES, PRIMARY_CAPSULES // positions))


def conv_width(grid: tuple[int, int], channels: int | str = "auto") -> int:
    """Channels of the first convolution before a ``grid`` of primary capsules.

    ``"auto"``: the paper's 256, eight per automatic type (32 × 8, as many as the
    primary capsule convolution outputs), so past a 10×10 grid it shrinks with the
    types (:func:`capsule_types`): 176 on 12×12, 128 on 14×14, 64 on 20×20. The cost of a pass,
    which grows with the number of positions times the channels, then stays about
    that of a 10×10 grid while the grid grows. An int is taken as it is.

    Examples
    --------
    >>> [conv_width((g, g)) for g in (6, 10, 12, 14, 20)], conv_width((14, 14), 256)
    ([256, 256, 176, 128, 64], 256)
    """
    if channels != "auto":
        return int(channels)
    return PAPER_CHANNELS // PAPER_TYPES * capsule_types(grid)


def grid_cap(height: int, width: int, primary_grid: int | str = PRIMARY_GRID) -> int:
    """The most primary capsule positions along a side of an image of ``height × width``.

    ``"auto"``: 10 (36-pixel working size) up to a longer side of 77 pixels, then
    one position more every 6 pixels, 14 (44 pixels) from 96 to 175, then one more
    every 8 pixels, 20 (56 pixels) from 216 on. A small object on a large canvas then
    still spans several positions (a 28-pixel garment centred on 96 pixels spans
    about 4×4 of 14×14, on 224 pixels 3×3 of 20×20), while images up to 77 pixels,
    where the 10×10 grid learnt well, keep it. An int is taken as it is.

    Examples
    --------
    >>> [grid_cap(side, side) for side in (28, 64, 77, 78, 84, 90, 96, 175, 176, 216, 224)]
    [10, 10, 10, 11, 12, 13, 14, 14, 15, 20, 20]
    >>> grid_cap(300, 20), grid_cap(300, 20, 6)
    (20, 6)
    """
    if primary_grid != "auto":
        return int(primary_grid)
    small, middle, large = AUTO_GRIDS
    side = max(int(height), int(width))
    first = min(middle, small + max(0, side - GROWS_FROM) // GROWS_EVERY)
    return min(large, first + max(0, side - GROWS_AGAIN_FROM) // GROWS_AGAIN_EVERY)


@lru_cache(maxsize=256)
def working_limit(primary_grid: int) -> int:
    """The longest side read without a front end: every side up to it has at most
    ``primary_grid`` primary capsule positions (:func:`geometry`), and one pixel
    more would give one more.

    From a grid of 6 on that is ``2 * primary_grid + 16``: the paper's 9×9 kernels
    with stride 2 (the first 10×10 on even sides). Below, kernels shrink with the
    side and the limit is where the grid first exceeds ``primary_grid``.

    Examples
    --------
    >>> working_limit(10), working_limit(6), working_limit(12)  # 6×6 at 28, 12×12 at 40
    (36, 28, 40)
    >>> [working_limit(grid) for grid in (1, 2, 3, 4, 5)]
    [3, 6, 12, 16, 22]
    """
    if primary_grid < 1:
        raise ValueError(f"primary_grid must be at least 1, got {primary_grid}.")
    side = 1
    while _axis(side + 1)[2] <= primary_grid:
        side += 1
    return side


def working_size(
    height: int, width: int, primary_grid: int | str = PRIMARY_GRID
) -> tuple[int, int]:
    """The sides the first convolution sees: each side, capped at :func:`working_limit`
    of the :func:`grid_cap`.

    Examples
    --------
    >>> working_size(28, 28), working_size(40, 40), working_size(84, 84), working_size(224, 30)
    ((28, 28), (36, 36), (40, 40), (56, 30))
    >>> working_size(40, 40, primary_grid=12)  # the paper's 40×40 network
    (40, 40)
    """
    limit = working_limit(grid_cap(height, width, primary_grid))
    return tuple(min(int(size), limit) for size in (height, width))
