"""Dataset loaders and generators in the style of :mod:`sklearn.datasets`.

Nothing is downloaded: Fashion-MNIST is read from its files on disk
(:mod:`.fashion_mnist`), the rest is made (:mod:`.gratings`, :mod:`.viewpoints`).
"""

from .fashion_mnist import (
    FASHION_MNIST_CLASSES,
    FASHION_MNIST_DEFAULT,
    FASHION_MNIST_ENV,
    load_fashion_mnist,
    read_idx,
)
from .gratings import GRATINGS, make_gratings
from .viewpoints import affine_matrix, make_affine, place_on_canvas

__all__ = [
    "FASHION_MNIST_CLASSES",
    "FASHION_MNIST_DEFAULT",
    "FASHION_MNIST_ENV",
    "GRATINGS",
    "affine_matrix",
    "load_fashion_mnist",
    "make_affine",
    "make_gratings",
    "place_on_canvas",
    "read_idx",
]
