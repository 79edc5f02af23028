"""The viewpoint makers' arguments read and checked: image stacks, canvases, ranges, fills."""

from numbers import Real

import numpy as np

__all__ = [
    "as_stack",
    "canvas",
    "either_way",
    "fill_values",
    "held_unless_all_fit",
    "how_to_stack",
    "is_number",
    "pair",
    "scale_range",
]


def as_stack(images, data_format):
    """``images`` as an [n, c, h, w] stack in their own dtype, and the function that puts a
    result back in their layout."""
    if data_format not in (None, "channels_first", "channels_last"):
        raise ValueError(
            f"data_format={data_format!r} is not one of None, 'channels_first', 'channels_last'."
        )
    stack = np.asarray(images)
    if stack.ndim == 3 and stack.shape[2] <= 4 < min(stack.shape[:2]):
        raise ValueError(
            f"images of shape {stack.shape} look like one colour image, channels last; pass "
            "a stack of them, e.g. images[None] for one. For grey images this narrow, pass "
            "images[:, None] with data_format='channels_first'."
        )
    if stack.ndim == 3 and data_format is not None:
        raise ValueError(
            f"data_format={data_format!r} names a channel axis, but images of shape "
            f"{stack.shape} are a grey stack (n, h, w); for one colour image pass images[None]."
        )
    if stack.ndim == 3:
        return stack[:, None], lambda out: out[:, 0]
    if stack.ndim != 4:
        raise ValueError(
            f"images must be a stack of shape (n, h, w), (n, c, h, w) or (n, h, w, c); got "
            f"shape {stack.shape}. {how_to_stack(stack.shape)}"
        )
    if data_format is None:
        first, last = stack.shape[1] <= 4, stack.shape[3] <= 4
        if first == last:
            raise ValueError(
                f"cannot tell where the channels are in images of shape {stack.shape}; "
                "pass data_format='channels_first' or 'channels_last'."
            )
        data_format = "channels_first" if first else "channels_last"
    if data_format == "channels_first":
        return stack, lambda out: out
    return stack.transpose(0, 3, 1, 2), lambda out: np.ascontiguousarray(out.transpose(0, 2, 3, 1))


def fill_values(fill, channels: int, dtype) -> np.ndarray | None:
    """``fill`` as one float64 value per channel ``[c]``, or None for ``"edge"``; a
    ValueError that says what to pass where it is neither or does not fit ``dtype``."""
    if isinstance(fill, str) and fill == "edge":
        return None
    values = np.asarray(None if isinstance(fill, str) else fill)  # another str: refused
    if values.ndim > 1 or values.dtype.kind not in "biuf":
        raise ValueError(
            f"fill={fill!r}: pass a number, one number per channel (a colour), or 'edge'."
        )
    if values.ndim == 1 and len(values) != channels:
        raise ValueError(
            f"fill={fill!r} holds {len(values)} values, but the images have {channels} "
            f"channel{'s' * (channels != 1)}: pass one value per channel, one number for "
            "all of them, or 'edge'."
        )
    values = np.broadcast_to(values.astype(np.float64), (channels,))
    holds = held_unless_all_fit(values, np.dtype(dtype))
    if holds:
        raise ValueError(
            f"fill={fill!r} does not fit images of dtype {dtype}, which hold {holds}; pass "
            "a fill within that range, or convert the images first "
            "(images.astype(np.float32))."
        )
    return values


def held_unless_all_fit(values: np.ndarray, dtype: np.dtype) -> str | None:
    """None where ``dtype`` holds each of ``values`` exactly, else what it does hold."""
    if dtype == np.bool_:
        return None if np.isin(values, (0, 1)).all() else "0 or 1 (False or True)"
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        whole = (values == np.round(values)) & (values >= info.min) & (values <= info.max)
        return None if whole.all() else f"whole numbers from {info.min} to {info.max}"
    top = float(np.finfo(dtype).max)
    too_large = np.isfinite(values) & (np.abs(values) > top)
    return f"numbers up to {top:g} either way" if too_large.any() else None


def how_to_stack(shape) -> str:
    """The reshape that turns ``shape`` into an image stack, where one can be guessed."""
    if len(shape) == 2:
        side = int(round(np.sqrt(shape[1])))
        if side * side == shape[1]:
            return (
                f"For flat rows of {side}×{side} grey images: X.reshape(-1, {side}, {side}); "
                "for one image: images[None]."
            )
        return "For one grey image: images[None]; flat rows: X.reshape(-1, height, width)."
    return ""


def canvas(canvas_size) -> tuple[int, int]:
    sides = (canvas_size,) * 2 if np.ndim(canvas_size) == 0 else tuple(canvas_size)
    sides = tuple(np.asarray(v).item() if np.ndim(v) == 0 else v for v in sides)
    if len(sides) != 2 or not all(
        isinstance(v, int | np.integer) and not isinstance(v, bool) and v >= 1 for v in sides
    ):
        raise ValueError(
            f"canvas_size={canvas_size!r} must be a positive int or a (height, width) pair."
        )
    return int(sides[0]), int(sides[1])


def either_way(value, name) -> tuple[float, float]:
    """A number ``a`` as ``(-a, a)``, a pair as it is."""
    if is_number(value):
        if not value >= 0 or not np.isfinite(value):
            raise ValueError(
                f"{name}={value!r}: a single number is a bound, finite and at least 0."
            )
        return -float(value), float(value)
    return pair(value, name)


def is_number(value) -> bool:
    return (
        np.ndim(value) == 0
        and isinstance(np.asarray(value).item(), Real)
        and not (isinstance(np.asarray(value).item(), bool))
    )


def scale_range(value) -> tuple[float, float]:
    low, high = (float(value), float(value)) if is_number(value) else pair(value, "scale")
    if not np.isfinite(high) or not low > 0:
        raise ValueError(f"scale={value!r}: scales must be finite and above 0.")
    return low, high


def pair(value, name) -> tuple[float, float]:
    try:
        if isinstance(value, str) or np.ndim(value) != 1 or not all(map(is_number, value)):
            raise TypeError
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value!r} must be a number or a (low, high) pair.") from None
    if not (np.isfinite(low) and np.isfinite(high)):
        raise ValueError(f"{name}={value!r}: the bounds must be finite numbers.")
    if not low <= high:
        raise ValueError(f"{name}={value!r}: low must not be above high.")
    return low, high
