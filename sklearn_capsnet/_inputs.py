"""How ``X`` is read: one fitted, immutable :class:`InputSpec` says it all.

``fit`` reads the training data once (:meth:`InputSpec.from_training_data`) and
keeps what it learnt as ``input_spec_``: the shape the network sees, the order of
the values in one row of ``X``, the scaling into [0, 1], whether the rows are
images or a table. Everything that reads ``X`` afterwards or answers in ``X``'s
terms asks the spec: the loaders (:class:`~sklearn_capsnet._loader.RowReader`),
prediction's checks of new data, ``reconstruct``, the displays, the ONNX graph
and the model file. Each decision below is made by one function of this module:

============================  ===================================================
``X`` as given                read as
============================  ===================================================
``(n, H, W)``                 one-channel ``H×W`` images
``(n, C, H, W)``              channels first (PyTorch), unless ``data_format`` or
                              the rule below says channels last
``(n, H, W, C)``              channels last (NumPy, PIL, Keras, OpenCV) when ``C``
                              is 1, 3 or 4 and ``H`` and ``W`` are larger
``(n, F)`` rows               a table ``(F, 1, 1)``, except rows of a square
                              number ``F >= 64`` of pixel-like values (see
                              :func:`looks_like_pixels`): one-channel square
                              images, announced with an :class:`ImageShapeWarning`
============================  ===================================================

Channels-last data stays as it is in memory (a memmap is never copied whole); each
batch is rearranged on its way to the device (:meth:`InputSpec.to_channels_first`).
"""

import math
import sys
import warnings
from dataclasses import dataclass

import numpy as np

__all__ = [
    "ImageShapeWarning",
    "InputSpec",
    "InputUnitsWarning",
    "ValueRange",
    "check_float32_range",
    "looks_like_pixels",
    "value_range",
]

CHANNEL_COUNTS = (1, 3, 4)  # grey, RGB, RGBA: a last axis of these is read as channels
MIN_IMAGE_ROW = 64  # flat rows shorter than an 8×8 image are always a table
PIXEL_TOLERANCE = 1e-6  # float rounding: MinMaxScaler's output can reach 1 + 2e-16
CHUNK_ROWS = 4096  # rows read at a time when scanning a (memmapped) X
_FLOAT32_MAX = float(np.finfo(np.float32).max)
UNITS_FACTOR = 50  # X's range this many times wider or narrower than fit's: other units


class ImageShapeWarning(UserWarning):
    """The estimator chose how to read ``X`` by a rule: it says which, and how to override.

    Filter it with ``warnings.filterwarnings("ignore", category=ImageShapeWarning)``
    once the reading is the one you want, or pass ``input_shape`` / ``data_format``.
    """


class InputUnitsWarning(UserWarning):
    """``X`` at prediction looks like it is in other units than the training data.

    For example images in [0, 1] given to a model fitted on 0–255 pixels: the network
    sees them nearly black, and answers differently without an error. The warning names
    both ranges and the rescaling; filter it with
    ``warnings.filterwarnings("ignore", category=InputUnitsWarning)`` where ``X`` is as
    meant.
    """


def _user_stacklevel() -> int:
    """``stacklevel`` that points a warning at the first caller outside this package and
    scikit-learn (``fit`` is wrapped by scikit-learn's decorators)."""
    level, frame = 2, sys._getframe(2)  # 2: the caller of the function that warns
    while frame is not None and frame.f_globals.get("__name__", "").split(".")[0] in (
        "sklearn_capsnet",
        "sklearn",
    ):
        frame, level = frame.f_back, level + 1
    return level


@dataclass(frozen=True)
class ValueRange:
    """The smallest and largest value of each column of ``X``, read in one pass.

    Examples
    --------
    >>> import numpy as np
    >>> r = ValueRange.of(np.array([[0, 5], [2, 1]], dtype=np.uint8))
    >>> r.low.tolist(), r.high.tolist(), r.overall()
    ([0, 1], [2, 5], (0.0, 5.0))
    """

    low: np.ndarray  # [F], X's dtype
    high: np.ndarray  # [F]

    @classmethod
    def of(cls, X) -> "ValueRange":
        """Column minima and maxima of ``X``, a block of rows at a time: each block is
        read from disk (a memmap) once for both."""
        low = high = None
        for start in range(0, len(X), CHUNK_ROWS):
            block = np.asarray(X[start : start + CHUNK_ROWS])
            block_low, block_high = block.min(axis=0), block.max(axis=0)
            low = block_low if low is None else np.minimum(low, block_low)
            high = block_high if high is None else np.maximum(high, block_high)
        return cls(low, high)

    def overall(self) -> tuple[float, float]:
        """The smallest and the largest value of all of ``X``."""
        return float(self.low.min()), float(self.high.max())


def looks_like_pixels(X, values: ValueRange | None = None) -> bool:
    """Whether every value of ``X`` is a pixel intensity: in [0, 1], or whole in [0, 255].

    Standardised tables (negative values) and tables of other ranges are not.
    ``values``: ``X``'s range when already read. Reads ``X`` a block of rows at a
    time (a memmap stays on disk).
    """
    low, high = (values or ValueRange.of(X)).overall()
    if low < 0 or high > 255:
        return False
    if high <= 1 + PIXEL_TOLERANCE or X.dtype.kind in "biu":
        return True
    return all(
        np.array_equal(block, np.round(block))
        for block in (X[k : k + CHUNK_ROWS] for k in range(0, len(X), CHUNK_ROWS))
    )


def check_float32_range(X, overall: tuple[float, float], name: str) -> None:
    """Refuse float64 ``X`` whose smallest or largest value (``overall``) float32 cannot
    hold: the network computes in float32."""
    largest = max(abs(overall[0]), abs(overall[1]))
    if X.dtype.kind == "f" and X.dtype.itemsize > 4 and largest > _FLOAT32_MAX:
        raise ValueError(
            f"X has values beyond the float32 range (largest magnitude {largest:.3g}); "
            f"{name} computes in float32: rescale X first."
        )


def value_range(*arrays) -> tuple[float, float]:
    """[0, 1] when every value lies there, else the values' own minimum and maximum."""
    low = min(float(np.min(a)) for a in arrays)
    high = max(float(np.max(a)) for a in arrays)
    return (0.0, 1.0) if low >= 0 and high <= 1 else (low, high)


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
        shape, layout = _read_layout(
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
        if not _readings(shape, height, width) or self._holds(shape[1:]):
            return False
        return self._holds(shape) or not _readings(shape[1:], height, width)

    def _holds(self, sample_shape) -> bool:
        """Whether a stack's samples of ``sample_shape`` are images of this model."""
        channels, height, width = self.shape
        readings = _readings(sample_shape, height, width)
        return readings.get(self.data_format) == channels or (
            channels == 1 and 1 in readings.values()
        )

    def check_images(self, shape, name: str) -> None:
        """Refuse, at prediction, an array of ``shape`` that is one sample, or a stack
        whose images are not those of ``fit``."""
        shape = tuple(shape)
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
            if sample_shape == (channels, 1, 1):
                return
            raise ValueError(
                f"X holds images of shape {sample_shape}, but {name} was fitted on a table "
                f"of {channels} features: pass rows of shape (n, {channels})."
            )
        if self._holds(sample_shape):
            return
        readings = _readings(sample_shape, height, width)
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
            seen = readings.get(self.data_format, next(iter(readings.values())))
            raise ValueError(
                f"{got}: {seen} channel{'s' * (seen != 1)} where it expects {channels}; convert "
                "the images (for example PIL's image.convert('RGB') gives 3 channels, 'L' one)."
            )
        raise ValueError(f"{got}; resize X to that shape.")

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
            stacklevel=_user_stacklevel(),
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
    and [0, 1] floats, else in general terms."""
    narrow, broad = (training, values) if wider else (values, training)
    if 0 <= narrow[0] and narrow[1] <= 1 < broad[1] and 0 <= broad[0] and broad[1] <= 255:
        if wider:
            return "divide X by 255: the model was fitted on [0, 1] floats, X holds 8-bit pixels"
        return "multiply X by 255: the model was fitted on 8-bit pixels, X holds [0, 1] floats"
    return "rescale X as the training data was"


def is_image(shape) -> bool:
    """Whether samples of this ``(channels, height, width)`` are images, not table rows.

    Examples
    --------
    >>> is_image((1, 8, 8)), is_image((10, 1, 1))
    (True, False)
    """
    _, height, width = shape
    return height * width > 1


def images_to_draw(rows, shape, data_format="channels_first", values=None) -> np.ndarray:
    """Rows in ``data_format`` order as images in [0, 1] to draw: ``(n, H, W)`` or RGB.

    ``values`` ``(low, high)`` maps to black and white (colour: no channel, full
    channel); None takes [0, 1] when every value lies there, else the rows' own range.
    """
    channels, height, width = shape
    if data_format == "channels_last":
        images = rows.reshape(len(rows), height, width, channels)
    else:
        images = rows.reshape(len(rows), channels, height, width).transpose(0, 2, 3, 1)
    images = images[..., :3].astype(np.float64)
    low, high = value_range(rows) if values is None else values
    images = np.clip((images - low) / (high - low if high > low else 1.0), 0.0, 1.0)
    return images[..., 0] if channels == 1 else images


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


def _read_layout(name, X, sample_shape, values, *, input_shape, data_format):
    """``(shape, data_format_)``: how the network sees one sample of ``X``."""
    n_features = X.shape[1]
    if input_shape is not None:
        shape = tuple(int(v) for v in input_shape)
        if math.prod(shape) != n_features:
            raise ValueError(
                f"input_shape={tuple(input_shape)} holds {math.prod(shape)} values per sample, "
                f"but X has {n_features} features; pass input_shape=None to infer it, or a "
                f"(channels, height, width) whose product is {n_features}."
            )
        if sample_shape is None:  # rows: in the order data_format says
            return shape, "channels_last" if data_format == "channels_last" else "channels_first"
        return shape, _match_input_shape(name, shape, sample_shape, data_format)
    if sample_shape is not None:
        shape, layout, note = _stack_layout(sample_shape, data_format)
        if note:
            warnings.warn(
                f"{name} reads images of shape {tuple(sample_shape)} as {layout} "
                f"({shape[0]} channels of {shape[1]}×{shape[2]}): {note}. Pass "
                "data_format='channels_first' or 'channels_last' to choose.",
                ImageShapeWarning,
                stacklevel=_user_stacklevel(),
            )
        return shape, layout
    side = math.isqrt(n_features)
    if n_features >= MIN_IMAGE_ROW and side * side == n_features and looks_like_pixels(X, values):
        warnings.warn(
            f"{name} reads rows of {n_features} pixel-like values (all in [0, 1], or whole "
            f"numbers in [0, 255]) as {side}×{side} one-channel images. If X is a table, pass "
            f"input_shape=({n_features}, 1, 1); pass input_shape=(1, {side}, {side}), or X "
            f"as images of shape (n, {side}, {side}), to silence this.",
            ImageShapeWarning,
            stacklevel=_user_stacklevel(),
        )
        return (1, side, side), "channels_first"
    return (n_features, 1, 1), "channels_first"


def _stack_layout(sample_shape, data_format):
    """``(channels-first shape, data_format_, note)`` of an image stack's samples."""
    if len(sample_shape) == 2:
        return (1, *sample_shape), "channels_first", None
    first, height, last = sample_shape
    if data_format == "channels_first":
        return tuple(sample_shape), "channels_first", None
    if data_format == "channels_last":
        return (last, first, height), "channels_last", None
    if last in CHANNEL_COUNTS and min(first, height) > last:
        return (last, first, height), "channels_last", None
    if first in CHANNEL_COUNTS and min(height, last) > first:
        return tuple(sample_shape), "channels_first", None
    # neither axis is a usual channel count: the shorter one is the channels
    if last < first:
        return (last, first, height), "channels_last", "its last axis is the shorter"
    return tuple(sample_shape), "channels_first", "its first axis is not longer than the last"


def _match_input_shape(name, shape, sample_shape, data_format) -> str:
    """The layout in which a stack's samples hold ``input_shape`` (channels first)."""
    channels, height, width = shape
    sample_shape = tuple(sample_shape)
    readings = _readings(sample_shape, height, width)
    for layout in ("channels_first", "channels_last"):  # auto: channels first where both fit
        if readings.get(layout) == channels and data_format in ("auto", layout):
            return layout
    raise ValueError(
        f"{name} has input_shape={shape} (channels, height, width), but X holds images of "
        f"shape {sample_shape}"
        + (f" with data_format={data_format!r}" if data_format != "auto" else "")
        + f"; pass X as (n, {channels}, {height}, {width}) or (n, {height}, {width}, "
        f"{channels}), or input_shape=None to read the shape from X."
    )


def _readings(sample_shape, height, width) -> dict:
    """The channel counts under which ``sample_shape`` holds ``height × width`` images,
    by layout: ``{"channels_first": C, "channels_last": C}`` (either may be missing; a
    2-D sample is one channel in either layout)."""
    sample_shape = tuple(sample_shape)
    if len(sample_shape) == 2:
        both = {"channels_first": 1, "channels_last": 1}
        return both if sample_shape == (height, width) else {}
    if len(sample_shape) != 3:
        return {}
    readings = {}
    if sample_shape[1:] == (height, width):
        readings["channels_first"] = sample_shape[0]
    if sample_shape[:2] == (height, width):
        readings["channels_last"] = sample_shape[2]
    return readings
