"""The sizing rule: kernels, the primary capsule grid and the working size of a side.

Everything here is arithmetic on side lengths; :mod:`.front_end` and
:mod:`.capsnet` build modules from it.
"""

from functools import lru_cache
from typing import NamedTuple

__all__ = [
    "PRIMARY_GRID",
    "Geometry",
    "geometry",
    "working_limit",
    "working_size",
]

PRIMARY_GRID = 10  # the default cap on each side of the primary capsule grid

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


@lru_cache(maxsize=256)
def working_limit(primary_grid: int = PRIMARY_GRID) -> int:
    """The longest side read without a front end: every side up to it has at most
    ``primary_grid`` primary capsule positions (:func:`geometry`), and one pixel
    more would give one more.

    From a grid of 6 on that is ``2 * primary_grid + 16``: the paper's 9×9 kernels
    with stride 2 (the first 10×10 on even sides). Below, kernels shrink with the
    side and the limit is where the grid first exceeds ``primary_grid``.

    Examples
    --------
    >>> working_limit(), working_limit(6), working_limit(12)  # 6×6 at 28, 12×12 at 40
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


def working_size(height: int, width: int, primary_grid: int = PRIMARY_GRID) -> tuple[int, int]:
    """The sides the first convolution sees: each side, capped at :func:`working_limit`.

    Examples
    --------
    >>> working_size(28, 28), working_size(40, 40), working_size(224, 30)
    ((28, 28), (36, 36), (36, 30))
    >>> working_size(40, 40, primary_grid=12)  # the paper's 40×40 network
    (40, 40)
    """
    limit = working_limit(primary_grid)
    return tuple(min(int(size), limit) for size in (height, width))
