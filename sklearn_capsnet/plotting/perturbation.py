"""Each dimension of a class capsule, perturbed, drawn by the decoder."""

import numpy as np
import torch

from ..nn import longest_capsule
from .drawing import images_to_draw, one_sample, show
from .drawing import value_range as _value_range

__all__ = ["PerturbationDisplay"]


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
    value_range : (float, float), default=None
        The values drawn black and white, the same for every image; None: [0, 1] when
        every value lies there, else the range of the values drawn.

    Examples
    --------
    >>> import numpy as np
    >>> display = PerturbationDisplay(np.zeros((2, 3, 4)), [-0.25, 0, 0.25], (1, 2, 2), [0, 1])
    >>> display.plot().axes_.shape
    (2, 3)
    """

    def __init__(
        self,
        images,
        deltas,
        input_shape,
        dims,
        label=None,
        data_format="channels_first",
        value_range=None,
    ):
        self.images = np.asarray(images)
        self.deltas = np.asarray(deltas)
        self.input_shape = tuple(input_shape)
        self.dims = np.asarray(dims)
        self.label = label
        self.data_format = data_format
        self.value_range = value_range

    @classmethod
    def from_estimator(cls, estimator, x, *, deltas=None, dims=None):
        """Perturb the predicted class capsule of the single sample ``x`` and decode.

        Parameters
        ----------
        estimator : fitted CapsNetClassifier or CapsuleTransformer
        x : array-like of shape (n_features,), one image, or a batch of one
        deltas : array-like, default=``np.linspace(-0.25, 0.25, 11)``
        dims : array-like of int, default=all ``capsule_dim`` dimensions

        Returns
        -------
        PerturbationDisplay
            Plotted.
        """
        deltas = np.linspace(-0.25, 0.25, 11) if deltas is None else np.asarray(deltas)
        sample = one_sample(estimator, x)
        capsules = estimator.capsules(sample)[0]  # [J, D]: D as fit built the network
        dims = np.arange(capsules.shape[1]) if dims is None else np.asarray(dims)
        label = int(longest_capsule(torch.from_numpy(capsules[None]))[0])
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
            images,
            deltas,
            estimator.input_shape_,
            dims,
            label_name,
            estimator.data_format_,
            estimator.input_spec_.training_range(),
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
        value_range = self.value_range or _value_range(self.images)
        for i in range(n_dims):
            images = images_to_draw(
                self.images[i], self.input_shape, self.data_format, value_range
            )
            for k, image in enumerate(images):
                show(ax[i, k], image)
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
