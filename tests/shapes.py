"""A small learnable image task made on the spot: ten outline shapes at random places.

Used where a test needs real 28×28 (or other size) images without a download: each
class is one shape (filled square, hollow square, plus, cross, bars, disc, ring,
triangle, diagonal), drawn in white on black at a random size and position.
"""

import numpy as np

N_SHAPES = 10


def _shape_mask(kind: int, size: int) -> np.ndarray:
    r, c = np.mgrid[:size, :size]
    mid, edge = (size - 1) / 2, max(1, size // 5)
    radius = np.hypot(r - mid, c - mid)
    masks = [
        np.ones((size, size), bool),  # filled square
        (np.minimum(np.minimum(r, c), np.minimum(size - 1 - r, size - 1 - c)) < edge),  # frame
        (abs(r - mid) < edge / 2 + 0.5) | (abs(c - mid) < edge / 2 + 0.5),  # plus
        (abs(r - c) < edge) | (abs(r + c - size + 1) < edge),  # cross
        abs(r - mid) < edge,  # horizontal bar
        abs(c - mid) < edge,  # vertical bar
        radius <= mid,  # disc
        (radius <= mid) & (radius > mid - edge),  # ring
        (c >= (size - 1 - r) / 2) & (c <= (size - 1 + r) / 2),  # triangle
        abs(r - c) < edge,  # diagonal
    ]
    return masks[kind]


def make_shapes(
    n_samples: int, size=(28, 28), channels: int = 0, n_classes: int = N_SHAPES, seed=0
):
    """``n_samples`` uint8 images and their shape labels.

    Returns ``X`` of shape ``(n, H, W)`` (or ``(n, H, W, channels)`` when channels > 0,
    channels-last like most image libraries) and ``y`` in ``0 … n_classes-1``.
    """
    rng = np.random.default_rng(seed)
    height, width = size
    y = np.arange(n_samples) % n_classes
    rng.shuffle(y)
    X = np.zeros((n_samples, height, width), np.uint8)
    smallest = max(3, min(height, width) // 3)
    largest = max(smallest, min(height, width) * 2 // 3)
    for image, label in zip(X, y, strict=True):
        side = int(rng.integers(smallest, largest + 1))
        top = int(rng.integers(0, height - side + 1))
        left = int(rng.integers(0, width - side + 1))
        image[top : top + side, left : left + side][_shape_mask(label % N_SHAPES, side)] = 255
    if channels:
        X = np.repeat(X[..., None], channels, axis=-1)
    return X, y
