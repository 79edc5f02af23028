"""Fashion-MNIST from its IDX files on disk (Debian's package, or a folder): nothing is
downloaded."""

import gzip
import os
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

__all__ = [
    "FASHION_MNIST_CLASSES",
    "FASHION_MNIST_DEFAULT",
    "FASHION_MNIST_ENV",
    "load_fashion_mnist",
    "read_idx",
]

FASHION_MNIST_ENV = "SKLEARN_CAPSNET_FASHION_MNIST"
FASHION_MNIST_DEFAULT = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_HOW_TO_GET = (
    "Install them with `apt-get install dataset-fashion-mnist` (Debian/Ubuntu, into "
    f"{FASHION_MNIST_DEFAULT}), or put the four IDX files of "
    "https://github.com/zalandoresearch/fashion-mnist (train-images-idx3-ubyte.gz, "
    "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz, "
    f"gzipped or not) in a folder and pass data_home=folder or set {FASHION_MNIST_ENV}."
)


def read_idx(path) -> np.ndarray:
    """Read an IDX file of unsigned bytes (gzipped or not) into an array.

    The header (two zero bytes, type 0x08 for unsigned bytes, the number of
    dimensions, then each size as a big-endian uint32) must agree with the file's
    length; a truncated or foreign file raises ``ValueError``.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    ndarray of dtype uint8

    Examples
    --------
    >>> import gzip, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "labels.gz"
    >>> _ = path.write_bytes(gzip.compress(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9])))
    >>> read_idx(path)
    array([7, 8, 9], dtype=uint8)
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            raw = handle.read()
    except (OSError, EOFError) as error:  # gzip: bad or truncated stream
        raise ValueError(f"{path} is not a readable IDX file ({error}).") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08 or raw[3] == 0:
        raise ValueError(f"{path} is not an IDX file of unsigned bytes (bad header).")
    n_dims = raw[3]
    header = 4 + 4 * n_dims
    shape = tuple(int(v) for v in np.frombuffer(raw, dtype=">u4", count=n_dims, offset=4))
    expected = header + int(np.prod(shape))
    if len(raw) != expected:
        raise ValueError(
            f"{path} is truncated or corrupt: its header announces shape {shape} "
            f"({expected} bytes), but the file holds {len(raw)} bytes."
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def _find(folder: Path, name: str) -> Path:
    for candidate in (folder / f"{name}.gz", folder / name):
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"Fashion-MNIST file {name}(.gz) not found in {folder}. {_HOW_TO_GET}")


def load_fashion_mnist(*, data_home=None, subset="train", return_X_y=False, as_frame=False):
    """Load Fashion-MNIST (Xiao et al. 2017) from local IDX files.

    70,000 grayscale 28×28 images of clothing in 10 classes: 60,000 for training,
    10,000 for testing. The files are read from ``data_home``, else from the
    folder in the environment variable ``SKLEARN_CAPSNET_FASHION_MNIST``, else from
    ``/usr/share/datasets/fashion-mnist`` (Debian's ``dataset-fashion-mnist``).
    Nothing is downloaded; missing files raise an error that says how to get them.

    Parameters
    ----------
    data_home : str or os.PathLike, default=None
        Folder holding the four IDX files, gzipped or not.
    subset : {"train", "test", "all"}, default="train"
        The official training set, test set, or both (training first).
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.
    as_frame : bool, default=False
        ``data`` as a DataFrame of pixel columns and ``target`` as a Series.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data`` (n, 784) uint8, ``target`` (n,) int64, ``images`` (n, 28, 28) uint8,
        ``target_names``, ``feature_names``, ``frame`` (with ``as_frame``), ``DESCR``.
    (data, target) : tuple if ``return_X_y``

    Raises
    ------
    FileNotFoundError
        When the files are not there (the message says how to get them).
    ValueError
        When a file is truncated or corrupt, or ``subset`` is unknown.

    Examples
    --------
    >>> from sklearn_capsnet.datasets import load_fashion_mnist
    >>> X, y = load_fashion_mnist(subset="test", return_X_y=True)  # doctest: +SKIP
    >>> X.shape, y.shape  # doctest: +SKIP
    ((10000, 784), (10000,))
    """
    if subset not in ("train", "test", "all"):
        raise ValueError(f"subset={subset!r} is not one of 'train', 'test', 'all'.")
    folder = Path(data_home or os.environ.get(FASHION_MNIST_ENV) or FASHION_MNIST_DEFAULT)
    parts = ["train", "test"] if subset == "all" else [subset]
    images, targets = [], []
    for part in parts:
        image_file, label_file = (_find(folder, name) for name in _FILES[part])
        part_images, part_labels = read_idx(image_file), read_idx(label_file)
        if part_images.ndim != 3 or part_labels.ndim != 1 or len(part_images) != len(part_labels):
            raise ValueError(
                f"{image_file} and {label_file} do not hold images and labels of one set "
                f"(shapes {part_images.shape} and {part_labels.shape})."
            )
        images.append(part_images)
        targets.append(part_labels.astype(np.int64))
    images = np.concatenate(images)
    target = np.concatenate(targets)
    data = images.reshape(len(images), -1)
    height, width = images.shape[1:]
    feature_names = [f"pixel_{r}_{c}" for r in range(height) for c in range(width)]
    frame = None
    if as_frame:
        import pandas as pd

        data = pd.DataFrame(data, columns=feature_names)
        target = pd.Series(target, name="class")
        frame = pd.concat([data, target], axis=1)
    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        target=target,
        images=images,
        frame=frame,
        feature_names=feature_names,
        target_names=list(FASHION_MNIST_CLASSES),
        DESCR=(
            "Fashion-MNIST (Xiao, Rasul & Vollgraf 2017): 28x28 grayscale images of "
            f"Zalando articles in 10 classes; subset={subset!r}, {len(images)} images, "
            f"read from {folder}."
        ),
    )
