"""How ``X`` is read: image stacks and their channel axis, or rows of a table.

One place decides what one sample of ``X`` is for the network, a ``(channels, height,
width)`` image in channels-first order, and how the user's layout maps to it:

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
batch is rearranged on its way to the device (:func:`to_channels_first`).
"""

import math
import sys
import warnings
from collections import Counter

import numpy as np

__all__ = [
    "DATA_FORMATS",
    "ImageShapeWarning",
    "as_array",
    "read_layout",
    "check_sample_shape",
    "check_stack",
    "to_channels_first",
    "to_user_layout",
    "looks_like_pixels",
]

DATA_FORMATS = ("auto", "channels_first", "channels_last")
CHANNEL_COUNTS = (1, 3, 4)  # grey, RGB, RGBA: a last axis of these is read as channels
MIN_IMAGE_ROW = 64  # flat rows shorter than an 8×8 image are always a table
PIXEL_TOLERANCE = 1e-6  # float rounding: MinMaxScaler's output can reach 1 + 2e-16
_CHUNK_ROWS = 4096  # rows read at a time when scanning a (memmapped) X


class ImageShapeWarning(UserWarning):
    """The estimator chose how to read ``X`` by a rule: it says which, and how to override.

    Filter it with ``warnings.filterwarnings("ignore", category=ImageShapeWarning)``
    once the reading is the one you want, or pass ``input_shape`` / ``data_format``.
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


def _is_pil_image(value) -> bool:
    pil = sys.modules.get("PIL.Image")  # PIL is not a dependency: only check if loaded
    return pil is not None and isinstance(value, pil.Image)


def _is_tensor(value) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def _tensor_to_numpy(tensor) -> np.ndarray:
    """A tensor's values on the host; dtypes numpy lacks (bfloat16) become float32."""
    tensor = tensor.detach().cpu()
    try:
        return tensor.numpy()
    except TypeError:  # bfloat16 and other dtypes numpy does not have
        return tensor.float().numpy()


def _image_to_numpy(image) -> np.ndarray:
    """One image (array, tensor or PIL image) as an ndarray; palette images as RGB(A)."""
    if _is_tensor(image):
        return _tensor_to_numpy(image)
    if _is_pil_image(image) and image.mode in ("P", "PA"):
        # the values of a palette image are indices into its palette, not intensities
        image = image.convert(
            "RGBA" if "transparency" in image.info or image.mode == "PA" else "RGB"
        )
    return np.asarray(image)


def as_array(X):
    """``X`` as an ndarray where it is a tensor or a list of images; otherwise unchanged.

    Lists (and tuples) of equally shaped 2-D or 3-D arrays, tensors or PIL images are
    stacked into one array (``(n, H, W)`` or ``(n, H, W, C)`` for PIL). Lists of rows,
    DataFrames and arrays are left to scikit-learn's validation.

    Examples
    --------
    >>> import numpy as np
    >>> as_array([np.zeros((2, 3)), np.ones((2, 3))]).shape
    (2, 2, 3)
    """
    if _is_tensor(X):
        return _tensor_to_numpy(X)
    if _is_pil_image(X):
        raise ValueError(
            "X is one PIL image; pass a list of images ([image]) or an array with a batch "
            "axis (np.asarray(image)[None])."
        )
    if not isinstance(X, list | tuple) or len(X) == 0:
        return X
    first = X[0]
    if not (_is_pil_image(first) or _is_tensor(first) or np.ndim(first) >= 2):
        return X  # rows of features
    images = [_image_to_numpy(x) for x in X]
    shapes = {image.shape for image in images}
    if len(shapes) > 1:
        first_of = {}
        for k, image in enumerate(images):
            first_of.setdefault(image.shape, k)
        counts = Counter(image.shape for image in images)
        said = ", ".join(
            f"{counts[shape]} of shape {shape} (the first X[{k}])"
            for shape, k in sorted(first_of.items(), key=lambda item: -counts[item[0]])
        )
        raise ValueError(
            f"X is a list of images of {len(shapes)} different shapes: {said}. Resize them "
            "to one size (and one channel count, e.g. PIL's image.convert('RGB')) before "
            "passing them."
        )
    return np.stack(images)


def check_stack(X) -> None:
    """Refuse arrays that are no stack of images: more than 4 axes, or an empty axis."""
    if not isinstance(X, np.ndarray) or X.ndim <= 2:
        return
    if X.ndim > 4:
        raise ValueError(
            f"X has {X.ndim} dimensions {X.shape}; pass images as (n, height, width), "
            "(n, channels, height, width) or (n, height, width, channels), or flat rows "
            "(n, n_features). A video or volume must be cut into 2-D images first."
        )
    if 0 in X.shape[1:]:
        raise ValueError(
            f"X holds images with an empty axis, shape {X.shape}: every image needs a "
            "height, a width and channels of at least 1."
        )


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


def looks_like_pixels(X) -> bool:
    """Whether every value of ``X`` is a pixel intensity: in [0, 1], or whole in [0, 255].

    Standardised tables (negative values) and tables of other ranges are not.
    Reads ``X`` a block of rows at a time (a memmap stays on disk).
    """
    low, high = float(X.min()), float(X.max())
    if low < 0 or high > 255:
        return False
    if high <= 1 + PIXEL_TOLERANCE or X.dtype.kind in "biu":
        return True
    return all(
        np.array_equal(block, np.round(block))
        for block in (X[k : k + _CHUNK_ROWS] for k in range(0, len(X), _CHUNK_ROWS))
    )


def read_layout(estimator, X, sample_shape, *, input_shape, data_format):
    """How the network sees one sample: ``(input_shape_, data_format_)``.

    Parameters
    ----------
    estimator : estimator
        Named in messages and warnings.
    X : ndarray of shape (n_samples, n_features)
        The rows (image stacks already flattened).
    sample_shape : tuple or None
        The shape of one sample of an image stack, None for rows.
    input_shape : tuple of (int, int, int) or None
        The estimator's ``input_shape``, channels first.
    data_format : {"auto", "channels_first", "channels_last"}
        The estimator's ``data_format``.

    Returns
    -------
    input_shape_ : tuple of (int, int, int)
        ``(channels, height, width)``.
    data_format_ : {"channels_first", "channels_last"}
        The order of the values in one row of ``X``.
    """
    name = type(estimator).__name__
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
                stacklevel=4,
            )
        return shape, layout
    side = math.isqrt(n_features)
    if n_features >= MIN_IMAGE_ROW and side * side == n_features and looks_like_pixels(X):
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
    if len(sample_shape) == 2:
        both = {"channels_first": 1, "channels_last": 1}
        return both if sample_shape == (height, width) else {}
    readings = {}
    if sample_shape[1:] == (height, width):
        readings["channels_first"] = sample_shape[0]
    if sample_shape[:2] == (height, width):
        readings["channels_last"] = sample_shape[2]
    return readings


def check_sample_shape(estimator, sample_shape, shape=None) -> None:
    """At predict time, image stacks must hold images of the shape and layout of ``fit``.

    ``shape`` is the whole of ``X``'s shape, to recognise one image without a batch axis.
    """
    if sample_shape is None:
        return
    sample_shape = tuple(sample_shape)
    height, width = estimator.input_shape_[1:]
    one_image = shape is not None and len(shape) == 3 and _readings(tuple(shape), height, width)
    if one_image and height * width > 1 and not _readings(sample_shape, height, width):
        raise ValueError(
            f"X has shape {tuple(shape)}: one image, not a batch of images; pass X[None] "
            "(a batch of one) or a list of images."
        )
    name = type(estimator).__name__
    channels, height, width = estimator.input_shape_
    if height * width == 1:
        if sample_shape == (channels, 1, 1):
            return
        raise ValueError(
            f"X holds images of shape {sample_shape}, but {name} was fitted on a table of "
            f"{channels} features: pass rows of shape (n, {channels})."
        )
    layout = estimator.data_format_
    readings = _readings(sample_shape, height, width)
    if readings.get(layout) == channels or (channels == 1 and 1 in readings.values()):
        return
    last = layout == "channels_last"
    want = (
        (height, width)
        if channels == 1
        else ((height, width, channels) if last else (channels, height, width))
    )
    got = (
        f"X holds images of shape {sample_shape}, but {name} was fitted on images of shape {want}"
    )
    if channels in readings.values():  # the right images, the channels on the other side
        how = (
            "np.moveaxis(X, 1, -1) (a torch tensor: X.permute(0, 2, 3, 1))"
            if last
            else "np.moveaxis(X, -1, 1) (a torch tensor: X.permute(0, 3, 1, 2))"
        )
        side = "last" if last else "first"
        raise ValueError(f"{got}, with the channels {side}; the same images rearranged: {how}.")
    if readings:
        seen = readings.get(layout, next(iter(readings.values())))
        raise ValueError(
            f"{got}: {seen} channel{'s' * (seen != 1)} where it expects {channels}; convert the "
            "images (for example PIL's image.convert('RGB') gives 3 channels, 'L' one)."
        )
    raise ValueError(f"{got}; resize X to that shape.")


def to_channels_first(x, input_shape, data_format):
    """Rows ``[b, F]`` (a torch tensor) in ``data_format`` order to channels-first rows."""
    if data_format != "channels_last" or input_shape[0] == 1:
        return x
    channels, height, width = input_shape
    return x.view(-1, height, width, channels).permute(0, 3, 1, 2).reshape(x.shape[0], -1)


def to_user_layout(rows: np.ndarray, input_shape, data_format) -> np.ndarray:
    """Channels-first rows ``(n, F)`` (decoder output) back in ``data_format`` order."""
    if data_format != "channels_last" or input_shape[0] == 1:
        return rows
    channels, height, width = input_shape
    images = rows.reshape(-1, channels, height, width).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images).reshape(len(rows), -1)
