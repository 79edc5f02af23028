"""Figures of what a fitted CapsNet sees; matplotlib is imported only when drawing."""

import numpy as np

__all__ = ["PerturbationDisplay", "ReconstructionDisplay"]


def _as_images(rows: np.ndarray, input_shape) -> np.ndarray:
    channels, height, width = input_shape
    images = rows.reshape(len(rows), channels, height, width)
    if channels == 1:
        return images[:, 0]
    return images.transpose(0, 2, 3, 1)[..., :3]


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

    Examples
    --------
    >>> import numpy as np
    >>> display = ReconstructionDisplay(np.zeros((2, 4)), np.ones((2, 4)), (1, 2, 2))
    >>> display.plot().axes_.shape
    (2, 2)
    """

    def __init__(self, originals, reconstructions, input_shape, labels=None):
        self.originals = np.asarray(originals)
        self.reconstructions = np.asarray(reconstructions)
        self.input_shape = tuple(input_shape)
        self.labels = labels

    @classmethod
    def from_estimator(cls, estimator, X, *, n_images: int = 10, ax=None):
        """Reconstruct the first ``n_images`` rows of ``X`` with a fitted estimator and plot."""
        rows = np.asarray(X)[:n_images]
        rows = rows.reshape(len(rows), -1)
        labels = estimator.predict(rows) if hasattr(estimator, "predict") else None
        display = cls(rows, estimator.reconstruct(rows), estimator.input_shape_, labels)
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
            for k, image in enumerate(_as_images(rows, self.input_shape)):
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

    Examples
    --------
    >>> import numpy as np
    >>> display = PerturbationDisplay(np.zeros((2, 3, 4)), [-0.25, 0, 0.25], (1, 2, 2), [0, 1])
    >>> display.plot().axes_.shape
    (2, 3)
    """

    def __init__(self, images, deltas, input_shape, dims, label=None):
        self.images = np.asarray(images)
        self.deltas = np.asarray(deltas)
        self.input_shape = tuple(input_shape)
        self.dims = np.asarray(dims)
        self.label = label

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
        row = np.asarray(x).reshape(1, -1)
        capsules = estimator.capsules(row)[0]  # [J, D]
        label = int(np.argmax(np.linalg.norm(capsules, axis=1)))
        edited = np.repeat(capsules[None, None], len(dims) * len(deltas), axis=0)
        edited = edited.reshape(len(dims), len(deltas), *capsules.shape)
        for i, d in enumerate(dims):
            edited[i, :, label, d] += deltas
        decoded = estimator.decode(
            edited.reshape(-1, *capsules.shape), np.full(len(dims) * len(deltas), label)
        )
        images = decoded.reshape(len(dims), len(deltas), -1)
        return cls(images, deltas, estimator.input_shape_, dims, estimator.classes_[label]).plot()

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
            for k, image in enumerate(_as_images(self.images[i], self.input_shape)):
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
