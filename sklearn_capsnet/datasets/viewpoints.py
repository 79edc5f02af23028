"""New viewpoints of existing images: random placement on a canvas and affNIST-style transforms.

Sabour et al. (2017) trained on MNIST digits placed at random on a 40×40 canvas and
tested on affNIST, where each digit underwent a small random affine transform. These
two makers build such sets from any image stack (grey, channels first or channels
last), seeded as scikit-learn's makers are.

Geometry, in (row, column) pixel coordinates with rows downwards: a transform scales
each axis, then shears (each column moves by ``shear`` times the row's distance from
the centre: the lower half goes right for ``shear > 0``), then rotates (counter-clockwise
as displayed for a positive angle), all about the image's centre, which then lands on
the canvas's centre moved by the translation. Output pixels read the source by
bilinear interpolation, and the ``fill`` outside it: zero (black) unless asked otherwise,
a colour, or the nearest pixel of the image's border.
"""

import numpy as np
from scipy import ndimage
from sklearn.utils import Bunch, check_random_state

from .canvas_arguments import as_stack, canvas, either_way, fill_values, scale_range

__all__ = ["make_affine", "place_on_canvas", "affine_matrix"]

AFFNIST_ROTATION = 20.0  # degrees, either way
AFFNIST_SHEAR = 0.2
AFFNIST_SCALE = (0.8, 1.2)  # each axis drawn on its own


def affine_matrix(rotation: float, shear: float, scale: float | tuple[float, float]) -> np.ndarray:
    """The 2×2 map, in (row, column) coordinates, of a scale, then a shear, then a rotation.

    Parameters
    ----------
    rotation : float
        Degrees, counter-clockwise as displayed (rows downwards).
    shear : float
        Each column moves by ``shear`` times the row's distance from the centre.
    scale : float or (float, float)
        Factors along rows and along columns (one number: both).

    Returns
    -------
    ndarray of shape (2, 2)

    Examples
    --------
    >>> affine_matrix(90, 0.0, (1, 1)).round(12)  # a point right of the centre goes up
    array([[ 0., -1.],
           [ 1.,  0.]])
    """
    angle = np.deg2rad(rotation)
    cos, sin = np.cos(angle), np.sin(angle)
    turn = np.array([[cos, -sin], [sin, cos]])
    slant = np.array([[1.0, 0.0], [shear, 1.0]])
    return turn @ slant @ np.diag(np.broadcast_to(np.asarray(scale, dtype=float), (2,)))


def place_on_canvas(
    images,
    canvas_size: int | tuple[int, int] = 40,
    *,
    fill: float | tuple[float, ...] | str = 0,
    data_format: str | None = None,
    random_state=None,
    return_offsets: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Each image copied, unchanged, to a random position on a larger blank canvas.

    The training set of Sabour et al. (2017) for their affNIST test: 28×28 digits at a
    uniformly random position on a 40×40 black canvas. Every position that keeps the
    whole image on the canvas is equally likely; pixels are copied, not interpolated.

    Parameters
    ----------
    images : array-like of shape (n, h, w), (n, c, h, w) or (n, h, w, c)
        The image stack; its dtype and layout are kept.
    canvas_size : int or (int, int), default=40
        Height and width of the canvas, at least the images'.
    fill : float, sequence of float or "edge", default=0
        The canvas around each image: one value for every channel (0: black), one
        value per channel (a colour, e.g. ``(255, 255, 255)`` for white uint8 RGB), or
        ``"edge"``, the nearest pixel of the image's border (as ``numpy.pad`` with
        ``mode="edge"``), so a photo's background runs on to the canvas's sides. A
        value must fit the images' dtype (uint8: whole numbers from 0 to 255).
    data_format : {"channels_first", "channels_last"}, default=None
        Where the channels of a 4-D stack are; ``None`` reads it from the shape when
        only one axis can hold them (at most 4 long). One image is a stack of one:
        ``image[None]``.
    random_state : int, RandomState instance or None, default=None
        Seeds the draws: the same seed and the same stack give the same result (the
        draws are made for the whole stack at once, so a part of the stack gets others).
    return_offsets : bool, default=False
        Also return the (row, column) of each image's top-left pixel on the canvas.

    Returns
    -------
    placed : ndarray of shape (n, H, W), (n, c, H, W) or (n, H, W, c)
    offsets : ndarray of shape (n, 2), int64
        Only with ``return_offsets``.

    See Also
    --------
    make_affine : the affNIST-style test set.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_capsnet.datasets import place_on_canvas
    >>> placed, offsets = place_on_canvas(
    ...     np.ones((2, 28, 28), np.uint8), random_state=0, return_offsets=True)
    >>> placed.shape, int(placed[0].sum()), offsets.shape
    ((2, 40, 40), 784, (2, 2))
    >>> black = np.zeros((1, 2, 2, 3), np.uint8)  # one black RGB image, channels last
    >>> on_white = place_on_canvas(black, 3, fill=(255, 255, 255), random_state=0,
    ...                            data_format="channels_last")
    >>> on_white[0, ..., 0]  # its red channel
    array([[255,   0,   0],
           [255,   0,   0],
           [255, 255, 255]], dtype=uint8)
    """
    stack, restore = as_stack(images, data_format)
    n, channels, height, width = stack.shape
    rows, cols = canvas(canvas_size)
    values = fill_values(fill, channels, stack.dtype)  # [c], or None: the edge
    if rows < height or cols < width:
        raise ValueError(
            f"canvas_size={canvas_size!r} is smaller than the images ({height}×{width}); "
            "pass a canvas at least as large, or use make_affine to shrink them."
        )
    rng = check_random_state(random_state)
    offsets = np.stack(
        [rng.randint(0, rows - height + 1, size=n), rng.randint(0, cols - width + 1, size=n)],
        axis=1,
    ).astype(np.int64)
    placed = np.empty((n, channels, rows, cols), dtype=stack.dtype)
    if values is not None:
        placed[...] = values.astype(stack.dtype)[:, None, None]
    for k, (top, left) in enumerate(offsets):
        if values is None:
            margins = ((0, 0), (top, rows - height - top), (left, cols - width - left))
            placed[k] = np.pad(stack[k], margins, mode="edge")
        else:
            placed[k, :, top : top + height, left : left + width] = stack[k]
    placed = restore(placed)
    return (placed, offsets) if return_offsets else placed


def make_affine(
    images,
    canvas_size: int | tuple[int, int] = 40,
    *,
    rotation: float | tuple[float, float] = AFFNIST_ROTATION,
    shear: float | tuple[float, float] = AFFNIST_SHEAR,
    scale: float | tuple[float, float] = AFFNIST_SCALE,
    translation: str | float | tuple[float, float] = "fit",
    fill: float | tuple[float, ...] | str = 0,
    data_format: str | None = None,
    random_state=None,
    return_transforms: bool = False,
) -> np.ndarray | tuple[np.ndarray, Bunch]:
    """Each image under its own random affine transform, on a canvas: an affNIST-style set.

    affNIST (Tieleman 2013) put each MNIST digit through a small random affine
    transform within these defaults: rotation up to 20° either way, shear up to 0.2,
    each axis scaled by 0.8 to 1.2, and a translation that keeps the digit on its
    40×40 canvas. Each range is a parameter; ``(v, v)`` fixes a value, which gives one
    transform alone at one strength. The geometry is described in
    :func:`affine_matrix`: scale, shear, rotation about the image's centre, then the
    centre moved to the canvas's centre plus the translation (a whole number of pixels from
    where the centred image's pixels fall, so a translation alone never blurs).

    Parameters
    ----------
    images : array-like of shape (n, h, w), (n, c, h, w) or (n, h, w, c)
        The image stack, zero as background; its dtype and layout are kept
        (integer images are rounded and clipped to their type's range, boolean images
        thresholded at one half).
    canvas_size : int or (int, int), default=40
        Height and width of the output.
    rotation : float or (float, float), default=20.0
        Degrees, counter-clockwise as displayed, drawn uniformly from ``(-a, a)`` for a
        number ``a`` or from the range given.
    shear : float or (float, float), default=0.2
        Drawn as ``rotation`` is.
    scale : float or (float, float), default=(0.8, 1.2)
        A number is the scale of both axes; from a range, each axis draws its own.
    translation : "fit", float or (float, float), default="fit"
        ``"fit"``: each whole-pixel position where the transformed content (the nonzero
        pixels, as bilinear reading spreads them) stays whole on the canvas, equally
        likely (centred when there is none); a number ``m``: up to ``m`` pixels along
        each axis (a range as for ``rotation``), whatever the content. Translations are
        whole numbers of pixels from the centred position, so one drawn is rounded (and
        reported half a pixel off centre when image and canvas differ in size by an odd
        number).
    fill : float, sequence of float or "edge", default=0
        What an output pixel reads where its source lies outside the image (and, at
        the image's border, blends with): one value for every channel (0: black), one
        value per channel (a colour), or ``"edge"``, the nearest pixel of the image's
        border (as ``numpy.pad`` with ``mode="edge"``), so a photo's background runs on
        to the canvas's sides instead of a frame. A value must fit the images' dtype
        (uint8: whole numbers from 0 to 255). ``"fit"`` still keeps the nonzero pixels
        on the canvas.
    data_format : {"channels_first", "channels_last"}, default=None
        As in :func:`place_on_canvas`.
    random_state : int, RandomState instance or None, default=None
        As in :func:`place_on_canvas`. A range fixed to one value draws nothing, so it
        changes the other draws of the same seed.
    return_transforms : bool, default=False
        Also return what each image underwent.

    Returns
    -------
    transformed : ndarray of shape (n, H, W), (n, c, H, W) or (n, H, W, c)
    transforms : :class:`~sklearn.utils.Bunch`
        Only with ``return_transforms``: ``rotation`` (n,) degrees, ``shear`` (n,),
        ``scale`` (n, 2) by rows and columns, ``translation`` (n, 2) pixels by rows and
        columns from the canvas's centre, ``matrix`` (n, 2, 2).

    See Also
    --------
    place_on_canvas : the training set of the same protocol.
    affine_matrix : the geometry.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_capsnet.datasets import make_affine
    >>> images = np.zeros((3, 28, 28), np.uint8); images[:, 4:24, 12:16] = 255
    >>> X, info = make_affine(images, random_state=0, return_transforms=True)
    >>> X.shape, X.dtype, bool(np.all(np.abs(info.rotation) <= 20))
    ((3, 40, 40), dtype('uint8'), True)
    >>> turned = make_affine(images[:1], 28, rotation=(90, 90), shear=0, scale=1,
    ...                      translation=0)
    >>> bool((turned[0] == np.rot90(images[0])).all())  # a quarter turn, exactly
    True
    >>> grey = np.full((1, 28, 28), 128, np.uint8)  # a grey photo: no black frame
    >>> int(make_affine(grey, random_state=0, fill="edge").min())
    128
    """
    stack, restore = as_stack(images, data_format)
    n, channels, height, width = stack.shape
    rows, cols = canvas(canvas_size)
    values = fill_values(fill, channels, stack.dtype)  # [c], or None: the edge
    rng = check_random_state(random_state)
    angles = _draw(rng, either_way(rotation, "rotation"), n)  # [n]
    shears = _draw(rng, either_way(shear, "shear"), n)  # [n]
    scales = _draw(rng, scale_range(scale), (n, 2))  # [n, 2]
    free = translation == "fit" if isinstance(translation, str) else False
    if isinstance(translation, str) and not free:
        raise ValueError(f"translation={translation!r}: pass 'fit' or a number of pixels.")
    shifts = (
        rng.uniform(size=(n, 2))
        if free
        else _draw(rng, either_way(translation, "translation"), (n, 2))
    )

    centre_in = np.array([(height - 1) / 2, (width - 1) / 2])
    centre_out = np.array([(rows - 1) / 2, (cols - 1) / 2])
    matrices = np.array(
        [affine_matrix(a, s, z) for a, s, z in zip(angles, shears, scales, strict=True)]
    ).reshape(n, 2, 2)
    # the image's grid lands on the canvas's: its centre at centre_in + landing with
    # landing a whole number of pixels (centred: landing == step)
    step = centre_out - centre_in
    out = np.empty((n, channels, rows, cols), dtype=stack.dtype)  # one image in float64 at a time
    translations = np.zeros((n, 2))
    for k in range(n):
        matrix, image = matrices[k], stack[k].astype(np.float64)  # [c, h, w]
        if free:
            low, high = _room(image, matrix, centre_in, centre_out, (rows, cols))
            first, last = np.ceil(low + step - 1e-9), np.floor(high + step + 1e-9)
            choices = last - first + 1  # whole landings keeping the content whole, per axis
            drawn = first + np.minimum(np.floor(shifts[k] * choices), choices - 1)
            landing = np.where(choices >= 1, drawn, np.floor((low + high) / 2 + step + 0.5))
        else:
            landing = np.floor(shifts[k] + step + 0.5)  # halves up
        move = landing - step
        translations[k] = move
        inverse = np.linalg.inv(matrix)
        # output q reads source p = inverse (q - centre_out - move) + centre_in
        offset = centre_in - inverse @ (centre_out + move)
        for c, plane in enumerate(image):
            outside = (
                {"mode": "nearest"}  # beyond the border: the border pixel
                if values is None
                else {"mode": "grid-constant", "cval": values[c]}
            )
            warped = ndimage.affine_transform(
                plane, inverse, offset=offset, output_shape=(rows, cols), order=1, **outside
            )
            out[k, c] = _like(warped, stack.dtype)
    transformed = restore(out)
    if not return_transforms:
        return transformed
    info = Bunch(
        rotation=angles, shear=shears, scale=scales, translation=translations, matrix=matrices
    )
    return transformed, info


def _room(image, matrix, centre_in, centre_out, canvas):
    """The translations (low, high per axis) that keep the transformed content on the canvas."""
    content = np.argwhere((image != 0).any(axis=0))  # [m, 2] rows and columns of content
    if len(content) == 0:
        return -centre_out, np.array(canvas) - 1 - centre_out
    # bilinear reading reaches a pixel short of the next: what is drawn lies strictly
    # inside the map of the content's box grown by one pixel, which may then span -1 to
    # the canvas's side without a drawn pixel falling off
    (top, left), (bottom, right) = content.min(axis=0) - 1, content.max(axis=0) + 1
    corners = np.array([[top, left], [top, right], [bottom, left], [bottom, right]], float)
    moved = (corners - centre_in) @ matrix.T + centre_out  # [4, 2] with no translation
    return -1 - moved.min(axis=0), np.array(canvas) - moved.max(axis=0)


def _draw(rng, bounds, size):
    low, high = bounds
    return rng.uniform(low, high, size=size) if high > low else np.full(size, low)


def _like(values: np.ndarray, dtype) -> np.ndarray:
    """Interpolated values back in the input's dtype (integers rounded and clipped, booleans
    thresholded at one half)."""
    if dtype == np.bool_:
        return values >= 0.5
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return np.clip(np.round(values), info.min, info.max).astype(dtype)
    return values.astype(dtype)
