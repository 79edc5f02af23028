"""Originals above their reconstructions from the class capsules."""

import numpy as np

from ..data.arrays import as_array
from .drawing import images_to_draw, show
from .drawing import value_range as _value_range

__all__ = ["ReconstructionDisplay"]


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
    value_range : (float, float), default=None
        The values drawn black and white (no colour and full colour), the same for
        every image; None: [0, 1] when every value lies there, else the range of the
        values drawn. :meth:`from_estimator` passes the training data's range.

    Examples
    --------
    >>> import numpy as np
    >>> display = ReconstructionDisplay(np.zeros((2, 4)), np.ones((2, 4)), (1, 2, 2))
    >>> display.plot().axes_.shape
    (2, 2)
    """

    def __init__(
        self,
        originals,
        reconstructions,
        input_shape,
        labels=None,
        data_format="channels_first",
        value_range=None,
    ):
        self.originals = np.asarray(originals)
        self.reconstructions = np.asarray(reconstructions)
        self.input_shape = tuple(input_shape)
        self.labels = labels
        self.data_format = data_format
        self.value_range = value_range

    @classmethod
    def from_estimator(cls, estimator, X, *, n_images: int = 10, ax=None):
        """Reconstruct the first ``n_images`` rows of ``X`` with a fitted estimator and plot."""
        X = X[:n_images]  # as given: the estimator checks its shape and layout
        labels = estimator.predict(X) if hasattr(estimator, "predict") else None
        reconstructions = estimator.reconstruct(X)  # in X's shape
        n_images = len(reconstructions)
        display = cls(
            np.asarray(as_array(X)).reshape(n_images, -1),
            reconstructions.reshape(n_images, -1),
            estimator.input_shape_,
            labels,
            estimator.data_format_,
            estimator.input_spec_.training_range(),
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
        value_range = self.value_range or _value_range(self.originals, self.reconstructions)
        for row, rows in enumerate((self.originals, self.reconstructions)):
            images = images_to_draw(rows, self.input_shape, self.data_format, value_range)
            for k, image in enumerate(images):
                show(ax[row, k], image)
                ax[row, k].set_xticks([])
                ax[row, k].set_yticks([])
        ax[0, 0].set_ylabel("input")
        ax[1, 0].set_ylabel("decoded")
        if self.labels is not None:
            for k, label in enumerate(self.labels):
                ax[0, k].set_title(str(label))
        self.figure_, self.axes_ = fig, ax
        return self
