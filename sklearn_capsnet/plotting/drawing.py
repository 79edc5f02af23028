"""What every display shares: one sample from what the user passes, images to draw."""

import numpy as np

from ..data.arrays import as_array
from ..data.value_range import value_range

__all__ = ["images_to_draw", "one_sample", "show", "value_range"]


def one_sample(estimator, x) -> np.ndarray:
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


def show(ax, image) -> None:
    """Draw one image of :func:`images_to_draw`: grey from black (0) to white (1), or RGB."""
    if image.ndim == 2:
        ax.imshow(image, cmap="gray", vmin=0.0, vmax=1.0)
    else:
        ax.imshow(image)


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
