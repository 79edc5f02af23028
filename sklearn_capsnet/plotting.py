"""Figures of what a fitted CapsNet sees; matplotlib is imported only when drawing."""

import numpy as np
import torch

from ._arrays import as_array
from ._inputs import images_to_draw
from ._inputs import value_range as _value_range
from .nn import longest_capsule

__all__ = ["CouplingDisplay", "PerturbationDisplay", "ReconstructionDisplay", "coupling_maps"]


def _one_sample(estimator, x) -> np.ndarray:
    """``x`` as a batch of one for ``estimator``: one row, one image, or a batch of one
    (the fitted input spec decides which, :meth:`InputSpec.is_one_sample`)."""
    if type(x).__module__.startswith("PIL."):
        x = [x]  # one PIL image
    x = np.asarray(as_array(x))
    if x.ndim <= 1:
        return x.reshape(1, -1)  # one row
    if estimator.input_spec_.is_one_sample(x.shape):
        return x[None]
    if len(x) == 1:
        return x
    if x.size // len(x) != estimator.input_spec_.n_features:
        return x[None]  # no batch of this model's samples: its own check says what is wrong
    what = "rows" if x.ndim == 2 else "images"
    raise ValueError(
        f"this display draws one sample; got {len(x)} {what}. Pass one of them, e.g. X[0]."
    )


def _show(ax, image) -> None:
    """Draw one image of :func:`_as_images`: grey from black (0) to white (1), or RGB."""
    if image.ndim == 2:
        ax.imshow(image, cmap="gray", vmin=0.0, vmax=1.0)
    else:
        ax.imshow(image)


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
                _show(ax[row, k], image)
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
        dims = np.arange(estimator.capsule_dim) if dims is None else np.asarray(dims)
        sample = _one_sample(estimator, x)
        capsules = estimator.capsules(sample)[0]  # [J, D]
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
                _show(ax[i, k], image)
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


def _class_indices(classes_, classes) -> np.ndarray:
    """Positions in ``classes_`` of the chosen ``classes`` (one value or a list; None: all)."""
    if classes is None:
        return np.arange(len(classes_))
    if isinstance(classes, str) or np.ndim(classes) == 0:
        classes = [classes]
    known = list(classes_)
    unknown = [c for c in classes if c not in known]
    if unknown:
        raise ValueError(
            f"classes={list(classes)!r} holds values the model does not know: {unknown!r}; "
            f"choose among classes_ = {known!r}."
        )
    return np.array([known.index(c) for c in classes])


def coupling_maps(coupling, receptive_fields) -> np.ndarray:
    """Coupling coefficients of one sample as one map per class over the input pixels.

    Each primary grid position gets the mean coupling of its capsule types; each
    pixel, the mean over the positions whose receptive field holds it. With dynamic
    routing the maps of a pixel sum to 1 over the classes, and ``1 / n_classes``
    everywhere is the coupling before any agreement.

    Parameters
    ----------
    coupling : array-like of shape (n_primary_capsules, n_classes)
        One sample of :meth:`~sklearn_capsnet.CapsNetClassifier.coupling_coefficients`.
    receptive_fields : array-like of bool, shape (grid_height, grid_width, height, width)
        Which pixels each grid position reads
        (:meth:`sklearn_capsnet.nn.CapsNet.receptive_fields`).

    Returns
    -------
    ndarray of shape (n_classes, height, width)
        NaN where no primary capsule reads the pixel.

    Examples
    --------
    >>> import numpy as np
    >>> fields = np.ones((1, 2, 3, 3), dtype=bool)  # 1×2 grid, both read all 3×3 pixels
    >>> coupling = np.array([[0.9, 0.1], [0.5, 0.5], [0.7, 0.3], [0.1, 0.9]])  # 2 types
    >>> coupling_maps(coupling, fields)[:, 0, 0]  # types then positions averaged
    array([0.55, 0.45])
    """
    coupling = np.asarray(coupling, dtype=np.float64)
    fields = np.asarray(receptive_fields, dtype=np.float64)
    grid_h, grid_w = fields.shape[:2]
    n_classes = coupling.shape[1]
    per_position = coupling.reshape(-1, grid_h, grid_w, n_classes).mean(axis=0)  # [gh, gw, J]
    votes = np.einsum("hwj,hwyx->jyx", per_position, fields)
    readers = fields.sum(axis=(0, 1))  # positions reading each pixel: [H, W]
    with np.errstate(invalid="ignore", divide="ignore"):
        return votes / readers


class CouplingDisplay:
    """Which parts of an input voted for which class: coupling coefficients as heat maps.

    One panel shows the input, then one panel per class its coupling map
    (:func:`coupling_maps`) over the input, drawn with a diverging colour map
    centred on ``center``: red where the primary capsules sent more than that to
    the class, blue where less. Build it with :meth:`from_estimator`; it keeps
    ``figure_`` and ``axes_`` after :meth:`plot`.

    Parameters
    ----------
    original : ndarray of shape (n_features,)
        The input row.
    maps : ndarray of shape (n_classes, height, width)
    input_shape : (int, int, int)
    class_labels : array-like of shape (n_classes,)
    scores : array-like of shape (n_classes,), default=None
        Shown under each class (e.g. ``predict_proba``).
    center : float, default=None
        The neutral value; None takes the maps' mean. :meth:`from_estimator` passes
        ``1 / n_classes`` for dynamic routing (the coupling before any agreement) and
        None for self-attention routing.
    data_format : {"channels_first", "channels_last"}, default="channels_first"
    value_range : (float, float), default=None
        The input values drawn black and white; None: [0, 1] when every value lies
        there, else the input's own range. :meth:`from_estimator` passes the training
        data's range.

    Examples
    --------
    >>> import numpy as np
    >>> display = CouplingDisplay(np.zeros(4), np.full((3, 2, 2), 1 / 3), (1, 2, 2), "abc")
    >>> display.plot().axes_.shape
    (4,)
    """

    def __init__(
        self,
        original,
        maps,
        input_shape,
        class_labels,
        scores=None,
        center=None,
        data_format="channels_first",
        value_range=None,
    ):
        self.original = np.asarray(original)
        self.maps = np.asarray(maps)
        self.input_shape = tuple(input_shape)
        self.class_labels = list(class_labels)
        self.scores = scores
        self.center = float(np.nanmean(self.maps)) if center is None else center
        self.data_format = data_format
        self.value_range = value_range

    @classmethod
    def from_estimator(cls, estimator, x, *, classes=None, ax=None):
        """Route the single sample ``x`` through a fitted estimator and plot its maps.

        Parameters
        ----------
        estimator : fitted CapsNetClassifier or CapsuleTransformer
            Trained on images (a table has no picture to draw on: a clear error).
        x : array-like of shape (n_features,), one image, or a batch of one
            In the layout the estimator was fitted on; a PIL image works too.
        classes : value or array-like of values of ``classes_``, default=None
            Which classes to draw; None draws all.
        ax : array of matplotlib Axes of shape (1 + n_drawn_classes,), default=None

        Returns
        -------
        CouplingDisplay
            Plotted.
        """
        if not estimator.input_spec_.is_image:
            raise ValueError(
                f"CouplingDisplay draws coupling over an image, but this model was fitted on "
                f"a table (input_shape_={tuple(estimator.input_shape_)}); read "
                "coupling_coefficients(X) directly for tables."
            )
        keep = _class_indices(estimator.classes_, classes)
        sample = _one_sample(estimator, x)
        coupling = estimator.coupling_coefficients(sample)[0]  # [I, J]
        fields = estimator.net_.capsnet().receptive_fields().cpu().numpy()
        maps = coupling_maps(coupling, fields)
        if hasattr(estimator, "predict_proba"):
            scores = estimator.predict_proba(sample)[0]
        else:
            scores = np.linalg.norm(estimator.capsules(sample)[0], axis=1)
        # dynamic routing starts every coupling at 1 / n_classes; self-attention has no
        # such level, so its maps are centred on their own mean
        even = 1.0 / len(estimator.classes_) if estimator.routing == "dynamic" else None
        display = cls(
            sample.reshape(-1),
            maps[keep],
            estimator.input_shape_,
            np.asarray(estimator.classes_)[keep],
            np.asarray(scores)[keep],
            even,
            estimator.data_format_,
            estimator.input_spec_.training_range(),
        )
        return display.plot(ax=ax)

    def plot(self, ax=None):
        """Draw the input, then each class's map over a grey copy of it.

        Parameters
        ----------
        ax : array of matplotlib Axes of shape (1 + n_classes,), default=None
            Where to draw; a new figure when None.

        Returns
        -------
        self
        """
        import matplotlib.pyplot as plt
        from matplotlib.colors import TwoSlopeNorm

        n_panels = 1 + len(self.maps)
        if ax is None:
            fig, ax = plt.subplots(1, n_panels, figsize=(1.3 * n_panels, 1.9), squeeze=False)
        if np.size(ax) != n_panels:
            raise ValueError(
                f"ax holds {np.size(ax)} axes; this display needs {n_panels}: the input and "
                f"{n_panels - 1} class map(s)."
            )
        ax = np.asarray(ax).reshape(n_panels)
        fig = ax[0].figure
        value_range = self.value_range or _value_range(self.original)
        image = images_to_draw(
            self.original[None], self.input_shape, self.data_format, value_range
        )
        grey = image[0] if image.ndim == 3 else image[0].mean(axis=2)
        _show(ax[0], image[0])
        ax[0].set_title("input", fontsize=8)
        spread = np.nanmax(np.abs(self.maps - self.center))
        spread = spread if spread > 0 else 1.0
        norm = TwoSlopeNorm(self.center, self.center - spread, self.center + spread)
        for k, (values, label) in enumerate(
            zip(self.maps, self.class_labels, strict=True), start=1
        ):
            _show(ax[k], grey)
            shown = ax[k].imshow(values, cmap="RdBu_r", norm=norm, alpha=0.75)
            ax[k].set_title(str(label), fontsize=8)
            if self.scores is not None:
                ax[k].set_xlabel(f"{self.scores[k - 1]:.2f}", fontsize=7)
        for axis in ax:
            axis.set_xticks([])
            axis.set_yticks([])
        fig.colorbar(shown, ax=list(ax), shrink=0.8, label="coupling")
        self.figure_, self.axes_ = fig, ax
        return self
