"""Images whose classes differ only in detail finer than any shrunk copy keeps."""

import numpy as np
from sklearn.utils import check_random_state

__all__ = ["GRATINGS", "make_gratings"]

GRATINGS = ("horizontal", "vertical", "checkerboard")  # the classes of make_gratings


def make_gratings(
    n_samples=600, size=128, *, amplitude=(0.05, 0.2), noise=0.05, random_state=None
):
    """Grey images whose classes differ only in a texture two pixels fine.

    Each image is a smooth random background (three random waves of at most two
    periods across the image) with, over all of it, a grating of period 2 pixels:
    rows alternating (``"horizontal"``, class 0), columns alternating
    (``"vertical"``, 1) or both (``"checkerboard"``, 2), of random sign and of an
    amplitude drawn from ``amplitude``, plus Gaussian noise. Averaged over 2×2
    blocks, or shrunk to half the size or less by any anti-aliased resize, every
    grating vanishes and the three classes look alike: a model must see the image at
    full resolution to tell them apart.

    Parameters
    ----------
    n_samples : int, default=600
    size : int or (int, int), default=128
        Height and width.
    amplitude : (float, float), default=(0.05, 0.2)
        Range of the grating's amplitude, on a [0, 1] scale.
    noise : float, default=0.05
        Standard deviation of the pixel noise, on a [0, 1] scale.
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    X : ndarray of shape (n_samples, height, width), uint8
    y : ndarray of shape (n_samples,), int64
        0, 1, 2 for the classes of :data:`GRATINGS`, drawn uniformly.

    Examples
    --------
    >>> from sklearn_capsnet.datasets import make_gratings
    >>> X, y = make_gratings(4, size=8, random_state=0)
    >>> X.shape, X.dtype, y.shape
    ((4, 8, 8), dtype('uint8'), (4,))
    """
    rng = check_random_state(random_state)
    height, width = (size, size) if np.isscalar(size) else size
    rows = np.arange(height)[:, None] / height
    cols = np.arange(width)[None, :] / width
    stripes = [
        (-1.0) ** np.arange(height)[:, None] * np.ones((1, width)),
        np.ones((height, 1)) * (-1.0) ** np.arange(width)[None, :],
        (-1.0) ** (np.arange(height)[:, None] + np.arange(width)[None, :]),
    ]
    y = rng.randint(len(GRATINGS), size=n_samples)
    X = np.empty((n_samples, height, width), dtype=np.uint8)
    for k in range(n_samples):
        background = np.zeros((height, width))
        for _ in range(3):
            fy, fx = rng.uniform(-2, 2, size=2)
            phase = rng.uniform(0, 2 * np.pi)
            background += np.cos(2 * np.pi * (fy * rows + fx * cols) + phase) / 3
        sign = rng.choice((-1.0, 1.0))
        image = (
            0.5
            + 0.25 * background
            + sign * rng.uniform(*amplitude) * stripes[y[k]]
            + rng.normal(0.0, noise, (height, width))
        )
        X[k] = np.round(np.clip(image, 0.0, 1.0) * 255)
    return X, y.astype(np.int64)
