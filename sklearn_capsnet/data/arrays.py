"""X as users hold it, as one ndarray: tensors, lists of images, PIL images, arrays.

Only the container changes here: lists of equally shaped images become one stack,
tensors their values on the host; arrays (memmaps too) pass through untouched. How
the values are then read (layout, shape, scaling) is the input spec's
(:mod:`~sklearn_capsnet.data.input_spec`).
"""

import sys
from collections import Counter

import numpy as np

from .value_range import PIXEL_TOLERANCE

_SHAPES_SAID = 5  # a folder of photos has as many shapes as photos: name the commonest

__all__ = ["as_array", "check_stack", "is_pil_with_bands", "sample_shape"]


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


def is_pil_with_bands(X) -> bool:
    """Whether ``X`` is a list of PIL images of more than one band ("RGB", "LA", ...):
    their stack is channels last whatever the images' size, with no rule to apply.

    Examples
    --------
    >>> from PIL import Image
    >>> is_pil_with_bands([Image.new("RGB", (50, 2))]), is_pil_with_bands([Image.new("L", (4, 4))])
    (True, False)
    """
    return (
        isinstance(X, list | tuple)
        and len(X) > 0
        and _is_pil_image(X[0])
        and len(_image_to_numpy(X[0]).shape) == 3
    )


def as_array(X):
    """``X`` as an ndarray where it is a tensor or a list of images; otherwise unchanged.

    Lists (and tuples) of equally shaped 2-D or 3-D arrays, tensors or PIL images are
    stacked into one array (``(n, H, W)`` or ``(n, H, W, C)`` for PIL), and so are a
    pandas Series or 1-D object array of them (a DataFrame's column of images, or a
    DataFrame of that one column); images in different units (8-bit beside 16-bit,
    integers beside [0, 1] floats) are refused.
    Lists of rows, DataFrames and arrays are left to scikit-learn's validation.

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
    X = _listed_images(X)
    if not isinstance(X, list | tuple):
        return X
    if len(X) == 0:  # no rows: refused as an empty array is ("0 sample(s)")
        return np.empty((0, 0))
    if not _holds_image(X[0]):
        return X  # rows of features
    images = [_image_to_numpy(x) for x in X]
    shapes = {image.shape for image in images}
    if len(shapes) > 1:
        first_of = {}
        for k, image in enumerate(images):
            first_of.setdefault(image.shape, k)
        counts = Counter(image.shape for image in images)
        common = sorted(first_of.items(), key=lambda item: -counts[item[0]])
        said = ", ".join(
            f"{counts[shape]} of shape {shape} (the first X[{k}])"
            for shape, k in common[:_SHAPES_SAID]
        ) + (f" and {len(common) - _SHAPES_SAID} more" if len(common) > _SHAPES_SAID else "")
        palette = any(_is_pil_image(x) and x.mode in ("P", "PA") for x in X)
        raise ValueError(
            f"X is a list of images of {len(shapes)} different shapes: {said}. Resize them "
            "to one size (and one channel count) before passing them, e.g. with PIL: "
            "[image.resize((width, height)) for image in X] (PIL gives sizes as (width, "
            "height), numpy shapes as (height, width)), and image.convert('RGB') or "
            "image.convert('L') for one channel count."
            + (
                " Palette images (mode 'P') are read as RGBA where they have transparency "
                "and as RGB where not: convert them all to one mode."
                if palette
                else ""
            )
        )
    _check_one_scale(images)
    return np.stack(images)


def _holds_image(value) -> bool:
    return _is_pil_image(value) or _is_tensor(value) or np.ndim(value) >= 2


def _listed_images(X):
    """A pandas Series or 1-D object array whose elements are images (a DataFrame's
    column of arrays or PIL images, or a DataFrame of that one column) as a list of
    them; anything else unchanged."""
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(X, pandas.DataFrame) and X.shape[1] == 1 and len(X):
        X = X.iloc[:, 0] if _holds_image(X.iloc[0, 0]) else X
    series = pandas is not None and isinstance(X, pandas.Series) and X.dtype == object
    column = isinstance(X, np.ndarray) and X.dtype == object and X.ndim == 1
    if (series or column) and len(X) and _holds_image(X[0] if column else X.iloc[0]):
        return list(X)
    return X


def _scale_of(image: np.ndarray) -> str | None:
    """The units an image's values say it is in, where they say it clearly: 8-bit
    pixels (a one-byte integer image reaching above 1), values above 255 (integers), or
    values in [0, 1] (floats or booleans reaching above 0); None otherwise (a blank or
    nearly black image, floats in 0-255, wider integers within 0-255)."""
    if image.size == 0 or image.dtype.kind not in "biuf":
        return None
    if image.dtype.kind == "b":
        return "values in [0, 1]" if image.any() else None
    high = float(image.max())
    if image.dtype.kind in "iu":
        if high > 255:
            return "values above 255 (16-bit or wider)"
        return "8-bit pixels" if image.dtype.itemsize == 1 and high > 1 else None
    return "values in [0, 1]" if 0 < high <= 1 + PIXEL_TOLERANCE else None


def _check_one_scale(images: list) -> None:
    """Refuse a list of images in different units: 8-bit next to 16-bit images, or
    integer pixels next to [0, 1] floats. Stacked, they would share one dtype and be
    scaled as one, some images hundreds of times darker than the rest."""
    first_of = {}
    for k, image in enumerate(images):
        scale = _scale_of(image)
        if scale is not None:
            first_of.setdefault(scale, (k, image.dtype))
    if len(first_of) < 2:
        return
    said = ", ".join(
        f"{scale} ({dtype}, the first X[{k}])" for scale, (k, dtype) in first_of.items()
    )
    raise ValueError(
        f"X is a list of images in different units: {said}. Stacked, they would be scaled "
        "as one and some images would be far darker than the others. Bring every image to "
        "one scale first, e.g. as floats in [0, 1]: np.asarray(image) / 255 for 8-bit "
        "images, / 65535 for 16-bit ones (PIL's convert('L') clips 16-bit values rather "
        "than scaling them)."
    )


def sample_shape(X) -> tuple | None:
    """The shape of one sample of ``X`` (an :func:`as_array` result) where ``X`` is a
    stack of images: ``X.shape[1:]`` for arrays of more than two axes, None for rows.

    Examples
    --------
    >>> import numpy as np
    >>> sample_shape(np.zeros((5, 28, 28, 3))), sample_shape(np.zeros((5, 784)))
    ((28, 28, 3), None)
    """
    return tuple(X.shape[1:]) if isinstance(X, np.ndarray) and X.ndim > 2 else None


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
