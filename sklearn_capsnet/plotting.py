"""Figures of what a fitted CapsNet sees; matplotlib is imported only when drawing."""

import numpy as np

__all__ = ["ReconstructionDisplay"]


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
            fig, ax = plt.subplots(2, n_images, figsize=(1.2 * n_images, 2.8), squeeze=False)
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
