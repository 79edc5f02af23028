"""How ``X`` is read: one fitted, immutable :class:`InputSpec` says it all.

``fit`` reads the training data once (:meth:`InputSpec.from_training_data`) and
keeps what it learnt as ``input_spec_``: the shape the network sees, the order of
the values in one row of ``X``, the scaling into [0, 1], whether the rows are
images or a table. Everything that reads ``X`` afterwards or answers in ``X``'s
terms asks the spec: the loaders (:class:`~sklearn_capsnet.data.loader.RowReader`),
prediction's checks of new data, ``reconstruct``, the displays, the ONNX graph
and the model file. Each decision is made by one function of this module.

How the shape of ``X`` is read is :mod:`.layout`'s rule.
"""

import math
import warnings
from dataclasses import dataclass

import numpy as np

from .layout import ImageShapeWarning, is_image, match_readings, read_layout, user_stacklevel
from .value_range import ValueRange, check_float32_range

__all__ = [
    "ImageShapeWarning",
    "InputSpec",
    "InputUnitsWarning",
    "is_image",
]  # the first and last from .layout

UNITS_FACTOR = 50  # X's range this many times wider or narrower than fit's: other units


class InputUnitsWarning(UserWarning):
    """``X`` at prediction or in ``partial_fit`` looks like it is in other units than the
    training data of ``fit``.

    For example images in [0, 1] given to a model fitted on 0–255 pixels: the network
    sees them nearly black, and answers differently without an error. The warning names
    both ranges and the rescaling; filter it with
    ``warnings.filterwarnings("ignore", category=InputUnitsWarning)`` where ``X`` is as
    meant.
    """


@dataclass(frozen=True, eq=False)
class InputSpec:
    """What ``fit`` learnt of ``X``: how one row becomes network input, and back.

    A row of ``X`` (its values in ``data_format`` order) enters the network as
    ``(row - offset) / scale`` in float32, rearranged to ``shape``'s ``(C, H, W)``.
    Build one with :meth:`from_training_data`; it never changes after.

    Parameters
    ----------
    shape : (int, int, int)
        ``(channels, height, width)`` of one sample, channels first; a table of ``F``
        features is ``(F, 1, 1)``.
    data_format : {"channels_first", "channels_last"}
        The order of the values in one row of ``X``.
    offset, scale : ndarray of shape (n_features,), float32
        Map the training data into [0, 1]: one range for all pixels of images, one
        per feature of a table.
    sample_shape : tuple or None, default=None
        One sample of the training ``X`` as the user held it, ``(H, W)``, ``(C, H, W)``
        or ``(H, W, C)``; None where ``X`` was rows (flat pixels, a table). Answers
        without an ``X`` of their own (``decode``) take this shape.

    Examples
    --------
    >>> import numpy as np
    >>> spec = InputSpec((3, 2, 2), "channels_last", np.zeros(12, np.float32),
    ...                  np.full(12, 255, np.float32), sample_shape=(2, 2, 3))
    >>> spec.is_image, spec.n_features
    (True, 12)
    >>> rows = np.arange(12, dtype=np.float32)[None]  # one row, channels first
    >>> spec.to_user_layout(rows).tolist()  # channels last: R, G, B of each pixel
    [[0.0, 4.0, 8.0, 1.0, 5.0, 9.0, 2.0, 6.0, 10.0, 3.0, 7.0, 11.0]]
    >>> spec.to_user_units(rows / 255, spec.sample_shape).shape  # one (H, W, C) image
    (1, 2, 2, 3)
    """

    shape: tuple
    data_format: str
    offset: np.ndarray
    scale: np.ndarray
    sample_shape: tuple | None = None

    def __post_init__(self) -> None:
        for values in (self.offset, self.scale):  # immutable, the arrays too
            if isinstance(values, np.ndarray):
                values.setflags(write=False)

    # -- what the input is ----------------------------------------------------------------

    @property
    def n_features(self) -> int:
        return math.prod(self.shape)

    @property
    def is_image(self) -> bool:
        """Whether rows are images (shifted, flipped, scaled as a whole), not a table.

        The one place that decides.
        """
        return is_image(self.shape)

    def training_range(self) -> tuple[float, float]:
        """The smallest and largest value of the training data, in ``X``'s units."""
        low = np.asarray(self.offset, dtype=np.float64)
        return float(low.min()), float((low + self.scale).max())

    # -- fitting ----------------------------------------------------------------------------

    @classmethod
    def from_training_data(
        cls, X, sample_shape, *, input_shape=None, data_format="auto", name="the estimator"
    ) -> "InputSpec":
        """Read the training rows once: their layout, shape and range.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            The rows (image stacks already flattened in their own order).
        sample_shape : tuple or None
            The shape of one sample of an image stack, None for rows.
        input_shape : tuple of (int, int, int) or None
            The estimator's ``input_shape``, channels first.
        data_format : {"auto", "channels_first", "channels_last"}
            The estimator's ``data_format``.
        name : str
            The estimator, named in messages and warnings.

        Raises
        ------
        ValueError
            When ``input_shape`` does not fit ``X``, or ``X`` holds values float32
            cannot hold.
        """
        values = ValueRange.of(X)
        check_float32_range(X, values.overall(), name)
        shape, layout = read_layout(
            name, X, sample_shape, values, input_shape=input_shape, data_format=data_format
        )
        offset, scale = _scaling(values, is_image(shape), X.shape[1])
        return cls(
            shape, layout, offset, scale, None if sample_shape is None else tuple(sample_shape)
        )

    # -- new data ---------------------------------------------------------------------------

    def is_one_sample(self, shape) -> bool:
        """Whether an array of ``shape`` is one sample without its batch axis.

        One table row ``(F,)``, or one image ``(H, W)``, ``(C, H, W)`` or
        ``(H, W, C)`` of the fitted height and width whose last axes are no image
        of the model (so ``(1, H, W)`` is a batch of one grey image, ``(3, H, W)``
        one colour image of a colour model). The one place that decides: prediction
        refuses such arrays with a message, the displays take them as a batch of one.
        """
        shape = tuple(shape)
        if len(shape) == 1:
            return shape[0] == self.n_features
        if not self.is_image or len(shape) not in (2, 3):
            return False
        if len(shape) == 2:  # a grey image, unless also a batch of rows
            return self._holds(shape) and shape[1] != self.n_features
        _, height, width = self.shape
        if not match_readings(shape, height, width) or self._holds(shape[1:]):
            return False
        return self._holds(shape) or not match_readings(shape[1:], height, width)

    def _holds(self, sample_shape) -> bool:
        """Whether a stack's samples of ``sample_shape`` are images of this model."""
        channels, height, width = self.shape
        readings = match_readings(sample_shape, height, width)
        return readings.get(self.data_format) == channels or (
            channels == 1 and 1 in readings.values()
        )

    def check_images(self, shape, name: str) -> None:
        """Refuse, at prediction, an array of ``shape`` that is one sample, or a stack
        whose images are not those of ``fit``."""
        shape = tuple(shape)
        self._check_one_image_of_other_channels(shape, name)
        if self.is_one_sample(shape) and len(shape) == 2:
            height, width = shape
            raise ValueError(
                f"X is one {height}×{width} image, but {name} reads a batch: pass X[None] "
                f"(shape (1, {height}, {width})) or a list of images."
            )
        if self.is_one_sample(shape):
            raise ValueError(
                f"X has shape {shape}: one image, not a batch of images; pass X[None] "
                "(a batch of one) or a list of images."
            )
        if len(shape) <= 2:
            return
        sample_shape = shape[1:]
        channels, height, width = self.shape
        if not self.is_image:
            if sample_shape in ((channels, 1, 1), self.sample_shape):  # as at fit: (n, 1, 1)
                return
            raise ValueError(
                f"X holds images of shape {sample_shape}, but {name} was fitted on a table "
                f"of {channels} features: pass rows of shape (n, {channels})."
            )
        if self._holds(sample_shape):
            return
        readings = match_readings(sample_shape, height, width)
        last = self.data_format == "channels_last"
        want = (
            (height, width)
            if channels == 1
            else ((height, width, channels) if last else (channels, height, width))
        )
        got = (
            f"X holds images of shape {sample_shape}, but {name} was fitted on images of "
            f"shape {want}"
        )
        if channels in readings.values():  # the right images, the channels on the other side
            how = (
                "np.moveaxis(X, 1, -1) (a torch tensor: X.permute(0, 2, 3, 1))"
                if last
                else "np.moveaxis(X, -1, 1) (a torch tensor: X.permute(0, 3, 1, 2))"
            )
            side = "last" if last else "first"
            raise ValueError(
                f"{got}, with the channels {side}; the same images rearranged: {how}."
            )
        if readings:
            layout = self.data_format if self.data_format in readings else next(iter(readings))
            seen = readings[layout]
            raise ValueError(
                f"{got}: {seen} channel{'s' * (seen != 1)} where it expects {channels}; convert "
                f"the images{_pil_mode_hint(channels)}"
                + (  # in X's own layout: where that is not the model's, moveaxis comes next
                    _array_channel_hint(len(sample_shape), layout, seen, channels, last)
                    if len(sample_shape) == 2 or channels == 1 or layout == self.data_format
                    else ""
                )
                + "."
            )
        raise ValueError(f"{got}; resize X to that shape.")

    def _check_one_image_of_other_channels(self, shape: tuple, name: str) -> None:
        """Refuse one image of the fitted height and width without its batch axis whose
        channels are not the model's: one grey ``(H, W)`` image for a colour model, or
        one colour image with its channels on the other side. Read as a batch, either
        would be refused with a message about rows or channel counts."""
        channels, height, width = self.shape
        if not self.is_image or channels == 1:
            return
        if shape == (height, width):
            raise ValueError(
                f"X is one {height}×{width} image of 1 channel, but {name} was fitted on "
                f"images of {channels} channels and reads a batch: pass a batch of "
                f"{channels}-channel images, as an array with a batch axis or a list of "
                f"images{_pil_mode_hint(channels)}."
            )
        if len(shape) != 3 or self._holds(shape) or self._holds(shape[1:]):
            return
        if channels not in match_readings(shape, height, width).values():
            return
        last = self.data_format == "channels_last"
        how = (
            "np.moveaxis(X, 0, -1)[None] (a torch tensor: X.permute(1, 2, 0)[None])"
            if last
            else "np.moveaxis(X, -1, 0)[None] (a torch tensor: X.permute(2, 0, 1)[None])"
        )
        raise ValueError(
            f"X has shape {shape}: one image with its channels {'first' if last else 'last'}"
            f", but {name} was fitted on images with the channels "
            f"{'last' if last else 'first'} and reads a batch: pass {how}."
            + (
                f" (As {shape[0]} images of one channel each, X would not fit either: the "
                f"model expects {channels} channels.)"
                if last
                else ""
            )
        )

    def units_mismatch(self, values: tuple[float, float]) -> float | None:
        """How many times wider (> 1) or narrower (< 1) than the training range a new
        ``X`` whose smallest and largest values are ``values`` is, where that looks like
        other units; None where it does not.

        Other units: ``X`` reaches over ``UNITS_FACTOR`` (50) training ranges (the
        span from the lower of both minima to the higher of both maxima), or, for
        images, spans less than 1/50 of the training range without being constant
        (0–1 images of a 0–255 fit span 1/255 of it). An image brighter or darker than
        any training image, or several times the contrast, is ordinary new data. A
        table is checked for the first only: its rows may span little of the training
        range (one row, a few similar rows), and standardised columns go a few units
        either side of zero whatever the rows.

        Examples
        --------
        >>> import numpy as np
        >>> spec = InputSpec((1, 8, 8), "channels_first", np.zeros(64, np.float32),
        ...                  np.full(64, 255, np.float32))  # fitted on 0-255 images
        >>> spec.units_mismatch((0.0, 1.0)), spec.units_mismatch((0.0, 255.0))
        (0.00392156862745098, None)
        >>> spec.units_mismatch((10.0, 510.0)) is None  # twice as bright: ordinary
        True
        """
        low, high = self.training_range()
        span = high - low
        new_low, new_high = values
        reach = max(high, new_high) - min(low, new_low)
        if reach >= UNITS_FACTOR * span:
            return reach / span
        if self.is_image and 0 < new_high - new_low <= span / UNITS_FACTOR:
            return (new_high - new_low) / span
        return None

    def check_units(self, X, name: str) -> None:
        """Warn (:class:`InputUnitsWarning`) when new rows ``X`` look like they are in
        other units than the training data (:meth:`units_mismatch`).

        Reads all of ``X`` once, a block of rows at a time (a memmap stays on disk),
        before any batch is predicted: one warning for the call, decided on all rows.
        """
        if not len(X):
            return
        values = ValueRange.of(X).overall()
        ratio = self.units_mismatch(values)
        if ratio is None:
            return
        (low, high), (new_low, new_high) = self.training_range(), values
        wider = ratio > 1
        warnings.warn(
            f"X's values run from {new_low:.4g} to {new_high:.4g}, but {name} was fitted on "
            f"values from {low:.4g} to {high:.4g}: a range about {max(ratio, 1 / ratio):.3g} "
            f"times {'wider' if wider else 'narrower'}, as if X were in other units. Pass X "
            f"in the units of fit ({_rescaling((low, high), values, wider)}); where X is as "
            "meant, filter this warning: warnings.filterwarnings('ignore', "
            "category=sklearn_capsnet.InputUnitsWarning).",
            InputUnitsWarning,
            stacklevel=user_stacklevel(),
        )

    # -- from X's layout and units to the network's, and back -------------------------------

    def to_channels_first(self, x):
        """Rows ``[b, F]`` (a torch tensor) in ``data_format`` order to channels-first rows."""
        if self.data_format != "channels_last" or self.shape[0] == 1:
            return x
        channels, height, width = self.shape
        return x.view(-1, height, width, channels).permute(0, 3, 1, 2).reshape(x.shape[0], -1)

    def to_user_layout(self, rows: np.ndarray) -> np.ndarray:
        """Channels-first rows ``(n, F)`` (decoder output) back in ``data_format`` order."""
        if self.data_format != "channels_last" or self.shape[0] == 1:
            return rows
        channels, height, width = self.shape
        images = rows.reshape(-1, channels, height, width).transpose(0, 2, 3, 1)
        return np.ascontiguousarray(images).reshape(len(rows), -1)

    def to_user_units(self, rows: np.ndarray, sample_shape: tuple | None = None) -> np.ndarray:
        """Network-input rows ``(n, F)`` in [0, 1], channels first, in ``X``'s layout and
        units (in place where ``rows`` are already in ``X``'s layout): flat rows, or
        with ``sample_shape`` (of an ``X`` in this layout) ``(n, *sample_shape)``."""
        rows = self.to_user_layout(rows)
        rows *= self.scale
        rows += self.offset
        return rows if sample_shape is None else rows.reshape(len(rows), *sample_shape)


def _rescaling(training: tuple, values: tuple, wider: bool) -> str:
    """How to bring new values back to the training units: by 255 between 8-bit pixels
    and values in [0, 1], by 257 between 8-bit and 16-bit pixels, else in general terms."""
    narrow, broad = (training, values) if wider else (values, training)
    if min(narrow[0], broad[0]) < 0:
        return "rescale X as the training data was"
    if narrow[1] <= 1 < broad[1] <= 255:
        if wider:
            return (
                "divide X by 255: the model was fitted on values in [0, 1], X holds 8-bit pixels"
            )
        return "multiply X by 255: the model was fitted on 8-bit pixels, X holds values in [0, 1]"
    ratio = (broad[1] - broad[0]) / max(narrow[1] - narrow[0], 1e-12)
    if 1 < narrow[1] <= 255 < broad[1] <= 65535 and 128 <= ratio <= 512:  # about 257
        if wider:
            return "divide X by 257: the model was fitted on 8-bit pixels, X holds 16-bit ones"
        return "multiply X by 257: the model was fitted on 16-bit pixels, X holds 8-bit ones"
    return "rescale X as the training data was"


def _scaling(values: ValueRange, image: bool, n_features: int):
    """Offset and scale (float32, one per feature) that map the training data into
    [0, 1]: one range for all pixels of images (a shifted-in zero border stays
    background), one per feature of a table. A constant feature gets scale 1."""
    if image:
        low, high = values.low.min(), values.high.max()
    else:
        low, high = values.low, values.high
    low = np.asarray(low, dtype=np.float64)
    span = np.asarray(high, dtype=np.float64) - low
    span = np.where(span > 0, span, 1.0)
    offset = np.broadcast_to(low, (n_features,)).astype(np.float32)
    scale = np.broadcast_to(span, (n_features,)).astype(np.float32)
    return offset, scale


def _array_channel_hint(ndim: int, layout: str, seen: int, channels: int, last: bool) -> str:
    """How an array of images with ``seen`` channels (``ndim``-D samples whose channels,
    where they have an axis, are in ``layout``) becomes one of ``channels`` for a model
    reading ``last`` (channels last) or not: the usual cases, else nothing."""
    axis = -1 if layout == "channels_last" else 1
    if ndim == 2 and seen == 1 and channels == 3:  # (n, H, W): no channel axis yet
        how = "np.repeat(X[..., None], 3, axis=-1)" if last else "np.repeat(X[:, None], 3, axis=1)"
    elif seen == 1 and channels == 3:
        how = f"np.repeat(X, 3, axis={axis})"
    elif seen == 4 and channels == 3:  # drop the alpha band
        how = "X[..., :3]" if axis == -1 else "X[:, :3]"
    elif seen == 3 and channels == 1:
        how = f"X.mean(axis={axis})"
    else:
        return ""
    return f"; an array: {how}"


def _pil_mode_hint(channels: int) -> str:
    """How PIL would give images of ``channels`` bands, for a message (or nothing)."""
    mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}.get(channels)
    return f" (with PIL: image.convert({mode!r}) gives {channels})" if mode else ""
