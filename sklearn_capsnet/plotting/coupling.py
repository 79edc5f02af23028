"""Where in the image each class capsule draws its evidence from: the routing's coupling."""

import numpy as np

from .drawing import images_to_draw, one_sample, show
from .drawing import value_range as _value_range

__all__ = ["CouplingDisplay", "coupling_maps"]


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
    or inverted attention routing the maps of a pixel sum to 1 over the classes, and
    ``1 / n_classes`` everywhere is the coupling before any agreement.

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
        ``1 / n_classes`` for the routings whose first pass couples evenly (dynamic
        and inverted attention: the coupling before any agreement) and None for
        self-attention routing.
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
        sample = one_sample(estimator, x)
        coupling = estimator.coupling_coefficients(sample)[0]  # [I, J]
        network = estimator.net_.capsnet()  # the network fit built
        maps = coupling_maps(coupling, network.receptive_fields().cpu().numpy())
        if hasattr(estimator, "predict_proba"):
            scores = estimator.predict_proba(sample)[0]
        else:
            scores = np.linalg.norm(estimator.capsules(sample)[0], axis=1)
        # dynamic and inverted-attention routing start every coupling at 1 / n_classes;
        # self-attention has no such level, so its maps are centred on their own mean
        even = 1.0 / len(estimator.classes_) if network.classes.routing.starts_even else None
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
        show(ax[0], image[0])
        ax[0].set_title("input", fontsize=8)
        spread = np.nanmax(np.abs(self.maps - self.center))
        spread = spread if spread > 0 else 1.0
        norm = TwoSlopeNorm(self.center, self.center - spread, self.center + spread)
        for k, (values, label) in enumerate(
            zip(self.maps, self.class_labels, strict=True), start=1
        ):
            show(ax[k], grey)
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
