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
    channels-last like most image libraries) and ``y`` in ``0 … n_classes-1``. Beyond
    ten classes, label ``k`` is shape ``k % 10`` at the ``k // 10``-th of evenly spaced
    sizes (up to 100 classes on 28×28).
    """
    rng = np.random.default_rng(seed)
    height, width = size
    y = np.arange(n_samples) % n_classes
    rng.shuffle(y)
    X = np.zeros((n_samples, height, width), np.uint8)
    smallest = max(3, min(height, width) // 3)
    largest = max(smallest, min(height, width) * 2 // 3)
    n_sizes = -(-n_classes // N_SHAPES)
    for image, label in zip(X, y, strict=True):
        if n_sizes > 1:  # the size is part of the class
            side = smallest + (largest - smallest) * (label // N_SHAPES) // max(1, n_sizes - 1)
        else:
            side = int(rng.integers(smallest, largest + 1))
        top = int(rng.integers(0, height - side + 1))
        left = int(rng.integers(0, width - side + 1))
        image[top : top + side, left : left + side][_shape_mask(label % N_SHAPES, side)] = 255
    if channels:
        X = np.repeat(X[..., None], channels, axis=-1)
    return X, y


# the input sizes the default network must learn at: (channels, height, width)
SIZES = {
    "8x8": (1, 8, 8),
    "16x16": (1, 16, 16),
    "28x28": (1, 28, 28),
    "32x32x3": (3, 32, 32),
    "64x64": (1, 64, 64),
    "20x40": (1, 20, 40),
    "table10": (10, 1, 1),
}


def network_inputs(shape, n: int = 16):
    """``n`` float32 tensors in [0, 1] of ``shape``: shapes images, or uniform table rows."""
    import torch

    channels, height, width = shape
    if height * width == 1:
        return torch.rand(n, *shape)
    images, _ = make_shapes(n, size=(height, width), channels=channels, seed=1)
    images = images.reshape(n, height, width, channels).transpose(0, 3, 1, 2)
    return torch.from_numpy(images / 255.0).float()
