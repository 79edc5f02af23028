"""How the shape of ``X`` is read: images or a table, channels first or last.

============================  ===================================================
``X`` as given                read as
============================  ===================================================
``(n, H, W)``                 one-channel ``H×W`` images
``(n, C, H, W)``              channels first (PyTorch), unless ``data_format`` or
                              the rule below says channels last
``(n, H, W, C)``              channels last (NumPy, PIL, Keras, OpenCV) when ``C``
                              is 1, 3 or 4 and ``H`` and ``W`` are larger; where
                              neither end reads so, the end that is 1, 3 or 4,
                              else the shorter, with an :class:`ImageShapeWarning`
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

from .value_range import looks_like_pixels

__all__ = ["ImageShapeWarning", "is_image", "match_readings", "read_layout", "user_stacklevel"]

CHANNEL_COUNTS = (1, 3, 4)  # grey, RGB, RGBA: a last axis of these is read as channels
MIN_IMAGE_ROW = 64  # flat rows shorter than an 8×8 image are always a table


class ImageShapeWarning(UserWarning):
    """The estimator chose how to read ``X`` by a rule: it says which, and how to override.

    Filter it with ``warnings.filterwarnings("ignore", category=ImageShapeWarning)``
    once the reading is the one you want, or pass ``input_shape`` / ``data_format``.
    """


def user_stacklevel() -> int:
    """``stacklevel`` that points a warning at the first caller outside this package and
    scikit-learn (``fit`` is wrapped by scikit-learn's decorators)."""
    level, frame = 2, sys._getframe(2)  # 2: the caller of the function that warns
    while frame is not None and frame.f_globals.get("__name__", "").split(".")[0] in (
        "sklearn_capsnet",
        "sklearn",
    ):
        frame, level = frame.f_back, level + 1
    return level


def is_image(shape) -> bool:
    """Whether samples of this ``(channels, height, width)`` are images, not table rows.

    Examples
    --------
    >>> is_image((1, 8, 8)), is_image((10, 1, 1))
    (True, False)
    """
    _, height, width = shape
    return height * width > 1


def read_layout(name, X, sample_shape, values, *, input_shape, data_format):
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
                f"({shape[0]} channel{'s' * (shape[0] != 1)} of {shape[1]}×{shape[2]}): "
                f"{note}. Pass "
                "data_format='channels_first' or 'channels_last' to choose.",
                ImageShapeWarning,
                stacklevel=user_stacklevel(),
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
            stacklevel=user_stacklevel(),
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
        also = last in CHANNEL_COUNTS  # (1, 30, 3): one grey 30×3 image, or a 1×30 RGB strip
        note = f"its last axis, {last}, could be the channels too" if also else None
        return tuple(sample_shape), "channels_first", note
    # neither reading has both sides longer: a usual channel count, else the shorter axis
    usual = "a usual channel count (1, 3 or 4) and the other end is not"
    if last in CHANNEL_COUNTS and first not in CHANNEL_COUNTS:
        return (last, first, height), "channels_last", f"its last axis, {last}, is {usual}"
    if first in CHANNEL_COUNTS and last not in CHANNEL_COUNTS:
        return tuple(sample_shape), "channels_first", f"its first axis, {first}, is {usual}"
    if last < first:
        return (last, first, height), "channels_last", "its last axis is the shorter"
    return tuple(sample_shape), "channels_first", "its first axis is not longer than the last"


def _match_input_shape(name, shape, sample_shape, data_format) -> str:
    """The layout in which a stack's samples hold ``input_shape`` (channels first)."""
    channels, height, width = shape
    sample_shape = tuple(sample_shape)
    readings = match_readings(sample_shape, height, width)
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


def match_readings(sample_shape, height, width) -> dict:
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
