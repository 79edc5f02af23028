"""Figures of what a fitted CapsNet sees; matplotlib is imported only when drawing."""

import numpy as np

from ._layout import as_array

__all__ = ["PerturbationDisplay", "ReconstructionDisplay"]


def _as_images(rows: np.ndarray, input_shape, data_format="channels_first") -> np.ndarray:
    """Rows in ``data_format`` order as images matplotlib draws: ``(n, H, W)`` or RGB."""
    channels, height, width = input_shape
    if data_format == "channels_last":
        images = rows.reshape(len(rows), height, width, channels)
    else:
        images = rows.reshape(len(rows), channels, height, width).transpose(0, 2, 3, 1)
    if channels == 1:
        return images[..., 0]
    images = images[..., :3].astype(np.float64)
    if images.min() < 0 or images.max() > 1:  # drawn in the data's own range
        low, high = images.min(), images.max()
        images = (images - low) / (high - low if high > low else 1.0)
    return np.clip(images, 0.0, 1.0)


class ReconstructionDisplay:
    """Originals above their reconstructions from the class capsules.

    Build it with :meth:`from_estimator`; like scikit-learn's displays it keeps
    ``figure_`` and ``axes_`` after :meth:`plot`.

    Parameters
    ----------
    originals, reconstructions : ndarray of shape (n_images, n_features)
    input_shape : (int, int, int)
        ``(channels, height, width)`` of one row.
    labels : array-like of shape (n_images,), default=None
        Titles of the columns (e.g. the predicted classes).
    data_format : {"channels_first", "channels_last"}, default="channels_first"
        The order of the values in one row (an estimator's ``data_format_``).

    Examples
    --------
    >>> import numpy as np
    >>> display = ReconstructionDisplay(np.zeros((2, 4)), np.ones((2, 4)), (1, 2, 2))
    >>> display.plot().axes_.shape
    (2, 2)
    """

    def __init__(
        self, originals, reconstructions, input_shape, labels=None, data_format="channels_first"
    ):
        self.originals = np.asarray(originals)
        self.reconstructions = np.asarray(reconstructions)
        self.input_shape = tuple(input_shape)
        self.labels = labels
        self.data_format = data_format

    @classmethod
    def from_estimator(cls, estimator, X, *, n_images: int = 10, ax=None):
        """Reconstruct the first ``n_images`` rows of ``X`` with a fitted estimator and plot."""
        X = X[:n_images]  # as given: the estimator checks its shape and layout
        labels = estimator.predict(X) if hasattr(estimator, "predict") else None
        reconstructions = estimator.reconstruct(X)
        display = cls(
            np.asarray(as_array(X)).reshape(len(reconstructions), -1),
            reconstructions,
            estimator.input_shape_,
            labels,
            estimator.data_format_,
        )
        return display.plot(ax=ax)

    def plot(self, ax=None):
        """Draw two rows of images: originals (top) and reconstructions (bottom).

        Parameters
        ----------
        ax : ndarray of matplotlib Axes of shape (2, n_images), default=None
            Where to draw; a new figure when None.

        Returns
        -------
        self
        """
        import matplotlib.pyplot as plt

        n_images = len(self.originals)
        if ax is None:
            fig, ax = plt.subplots(2, n_images, figsize=(1.1 * n_images, 2.6), squeeze=False)
        else:
            ax = np.asarray(ax).reshape(2, n_images)
            fig = ax[0, 0].figure
        for row, rows in enumerate((self.originals, self.reconstructions)):
            for k, image in enumerate(_as_images(rows, self.input_shape, self.data_format)):
                ax[row, k].imshow(image, cmap="gray_r" if image.ndim == 2 else None)
                ax[row, k].set_xticks([])
                ax[row, k].set_yticks([])
        ax[0, 0].set_ylabel("input")
        ax[1, 0].set_ylabel("decoded")
        if self.labels is not None:
            for k, label in enumerate(self.labels):
                ax[0, k].set_title(str(label))
        self.figure_, self.axes_ = fig, ax
        return self


class PerturbationDisplay:
    """What each capsule dimension encodes: the paper's perturbation figure.

    Row ``d`` decodes one sample's class capsule with dimension ``d`` moved by each
    of ``deltas`` (Sabour et al. 2017, Fig. 4): strokes thicken, slant or widen.

    Parameters
    ----------
    images : ndarray of shape (n_dims, n_deltas, n_features)
        Decoded rows.
    deltas : ndarray of shape (n_deltas,)
    input_shape : (int, int, int)
    dims : ndarray of shape (n_dims,)
        The perturbed dimensions.
    label : object, default=None
        The class whose capsule was perturbed.
    data_format : {"channels_first", "channels_last"}, default="channels_first"
        The order of the values in one row (an estimator's ``data_format_``).

    Examples
    --------
    >>> import numpy as np
    >>> display = PerturbationDisplay(np.zeros((2, 3, 4)), [-0.25, 0, 0.25], (1, 2, 2), [0, 1])
    >>> display.plot().axes_.shape
    (2, 3)
    """

    def __init__(
        self, images, deltas, input_shape, dims, label=None, data_format="channels_first"
    ):
        self.images = np.asarray(images)
        self.deltas = np.asarray(deltas)
        self.input_shape = tuple(input_shape)
        self.dims = np.asarray(dims)
        self.label = label
        self.data_format = data_format

    @classmethod
    def from_estimator(cls, estimator, x, *, deltas=None, dims=None):
        """Perturb the predicted class capsule of the single sample ``x`` and decode.

        Parameters
        ----------
        estimator : fitted CapsNetClassifier or CapsuleTransformer
        x : array-like of shape (n_features,) or one image
        deltas : array-like, default=``np.linspace(-0.25, 0.25, 11)``
        dims : array-like of int, default=all ``capsule_dim`` dimensions

        Returns
        -------
        PerturbationDisplay
            Plotted.
        """
        deltas = np.linspace(-0.25, 0.25, 11) if deltas is None else np.asarray(deltas)
        dims = np.arange(estimator.capsule_dim) if dims is None else np.asarray(dims)
        x = np.asarray(x)
        sample = x[None] if x.ndim > 1 else x.reshape(1, -1)  # one image, or one row
        capsules = estimator.capsules(sample)[0]  # [J, D]
        label = int(np.argmax(np.linalg.norm(capsules, axis=1)))
        edited = np.repeat(capsules[None, None], len(dims) * len(deltas), axis=0)
        edited = edited.reshape(len(dims), len(deltas), *capsules.shape)
        for i, d in enumerate(dims):
            edited[i, :, label, d] += deltas
        decoded = estimator.decode(
            edited.reshape(-1, *capsules.shape), np.full(len(dims) * len(deltas), label)
        )
        images = decoded.reshape(len(dims), len(deltas), -1)
        label_name = estimator.classes_[label]
        display = cls(
            images, deltas, estimator.input_shape_, dims, label_name, estimator.data_format_
        )
        return display.plot()

    def plot(self, ax=None):
        """Draw a grid: one row per dimension, one column per perturbation.

        Parameters
        ----------
        ax : ndarray of matplotlib Axes of shape (n_dims, n_deltas), default=None

        Returns
        -------
        self
        """
        import matplotlib.pyplot as plt

        n_dims, n_deltas = self.images.shape[:2]
        if ax is None:
            fig, ax = plt.subplots(
                n_dims, n_deltas, figsize=(0.7 * n_deltas, 0.7 * n_dims), squeeze=False
            )
        else:
            ax = np.asarray(ax).reshape(n_dims, n_deltas)
            fig = ax[0, 0].figure
        for i in range(n_dims):
            for k, image in enumerate(
                _as_images(self.images[i], self.input_shape, self.data_format)
            ):
                ax[i, k].imshow(image, cmap="gray_r" if image.ndim == 2 else None)
                ax[i, k].set_xticks([])
                ax[i, k].set_yticks([])
            ax[i, 0].set_ylabel(f"dim {self.dims[i]}", rotation=0, ha="right", va="center")
        for k, delta in enumerate(self.deltas):
            ax[-1, k].set_xlabel(f"{delta:+.2f}", fontsize=7)
        if self.label is not None:
            fig.suptitle(f"perturbing the capsule of class {self.label}")
        fig.tight_layout()
        self.figure_, self.axes_ = fig, ax
        return self
