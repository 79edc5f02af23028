"""The viewpoint makers: images placed on a canvas, and affNIST-style affine transforms."""

import numpy as np
import pytest
from reference import affine_literal, place_literal

from sklearn_capsnet.datasets import make_affine, place_on_canvas

IDENTITY = {"rotation": 0, "shear": 0, "scale": 1}


def letters(n=5, size=12, seed=0):
    """Small uint8 images with an asymmetric shape each (no symmetry hides a wrong turn)."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, size, size), np.uint8)
    images[:, 2:10, 3:5] = 200  # a vertical bar
    images[:, 2:4, 5:9] = 120  # a flag at its top, to the right
    images += rng.integers(0, 20, images.shape, dtype=np.uint8) * (images > 0)
    return images


def test_placed_images_are_copied_whole_at_their_offsets_on_a_blank_canvas():
    images = letters()
    placed, offsets = place_on_canvas(images, 20, random_state=0, return_offsets=True)
    assert placed.shape == (5, 20, 20) and placed.dtype == np.uint8
    for image, canvas, (top, left) in zip(images, placed, offsets, strict=True):
        np.testing.assert_array_equal(canvas[top : top + 12, left : left + 12], image)
        assert canvas.sum() == image.sum()  # nothing elsewhere


def test_every_position_on_the_canvas_is_drawn():
    _, offsets = place_on_canvas(np.ones((400, 4, 6)), (7, 8), random_state=0, return_offsets=True)
    assert set(offsets[:, 0]) == {0, 1, 2, 3} and set(offsets[:, 1]) == {0, 1, 2}


def test_placement_follows_the_seed():
    images = letters()
    first = place_on_canvas(images, 30, random_state=3)
    np.testing.assert_array_equal(first, place_on_canvas(images, 30, random_state=3))
    assert not np.array_equal(first, place_on_canvas(images, 30, random_state=4))


@pytest.mark.parametrize("maker", [place_on_canvas, make_affine])
def test_channels_last_and_channels_first_stacks_give_the_same_images(maker):
    grey = letters(4)
    colour = np.stack([grey, grey // 2, grey // 3], axis=1)  # [n, 3, h, w], one shape
    first = maker(colour, 24, random_state=0)
    last = maker(colour.transpose(0, 2, 3, 1), 24, random_state=0)
    assert first.shape == (4, 3, 24, 24) and last.shape == (4, 24, 24, 3)
    np.testing.assert_array_equal(last, first.transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(first[:, 0], maker(grey, 24, random_state=0))


def test_a_stack_whose_channels_could_be_either_axis_asks_for_data_format():
    with pytest.raises(ValueError, match="data_format='channels_first' or 'channels_last'"):
        make_affine(np.zeros((2, 3, 5, 3)), 8)
    out = place_on_canvas(np.zeros((2, 3, 5, 3)), 8, data_format="channels_last")
    assert out.shape == (2, 8, 8, 3)


def test_flat_rows_are_refused_with_the_reshape_that_fixes_them():
    with pytest.raises(ValueError, match=r"X.reshape\(-1, 28, 28\)"):
        place_on_canvas(np.zeros((2, 784)))
    with pytest.raises(ValueError, match=r"X.reshape\(-1, 8, 8\)"):  # load_digits().data
        make_affine(np.zeros((2, 64)))


def test_one_image_is_refused_with_how_to_make_it_a_stack():
    with pytest.raises(ValueError, match=r"one colour image.*images\[None\]"):
        place_on_canvas(np.zeros((28, 28, 3), np.uint8))
    with pytest.raises(ValueError, match=r"grey stack.*images\[None\]"):
        make_affine(np.zeros((3, 28, 28)), data_format="channels_first")
    with pytest.raises(ValueError, match=r"images\[None\]"):
        make_affine(np.zeros((28, 28)))


def test_a_canvas_smaller_than_the_images_is_refused():
    with pytest.raises(ValueError, match="smaller than the images"):
        place_on_canvas(np.zeros((2, 28, 28)), 20)


@pytest.mark.parametrize(
    "rotation, shear, scale",
    [
        (90, 0, (1, 1)),
        (17, 0, (1, 1)),
        (0, 0.3, (1, 1)),
        (0, 0, (1.3, 0.7)),
        (-12, -0.2, (0.9, 1.15)),
    ],
)
def test_transform_matches_an_independent_pixel_by_pixel_computation(rotation, shear, scale):
    image = letters(1, seed=1)[0] / 255 + 0.1  # nonzero up to its edges: how edges blend
    out, info = _exactly(image, 16, rotation, shear, scale, translation=(2, 2))
    expected = affine_literal(image, rotation, shear, *scale, (2, 2), 16)
    np.testing.assert_allclose(out, np.array(expected), atol=1e-12)
    assert info.rotation[0] == rotation and info.shear[0] == shear
    np.testing.assert_array_equal(info.scale[0], scale)
    np.testing.assert_array_equal(info.translation[0], (2, 2))


def test_rows_and_columns_are_not_confused_on_a_tall_canvas_with_odd_margins():
    image = letters(1, seed=2)[0][:, 1:10] / 255 + 0.1  # 12×9
    out, info = _exactly(image, (17, 14), 23, 0.1, (1.1, 0.9), translation=(2, -1))
    # margins of 5 by 5 pixels: the centred image sits half a pixel off the canvas's
    # centre, so the translation drawn (2, -1) lands half a pixel off, on the pixel grid
    np.testing.assert_array_equal(info.translation[0], (2.5, -0.5))
    expected = affine_literal(image, 23, 0.1, 1.1, 0.9, (2.5, -0.5), (17, 14))
    assert out.shape == (17, 14)
    np.testing.assert_allclose(out, np.array(expected), atol=1e-12)


def test_fit_draws_every_whole_pixel_position_equally_often():
    dot = np.zeros((4000, 4, 4))
    dot[:, 1, 2] = 1.0  # one pixel; with its bilinear fringe it fits at 8 places per axis
    out = make_affine(dot, 8, rotation=0, shear=0, scale=1, random_state=0)
    landed = np.argwhere(out > 0.5)  # [4000, 3]: image, row, column
    for axis in (1, 2):
        counts = np.bincount(landed[:, axis], minlength=8)
        assert counts.min() > 400 and counts.max() < 600, counts  # 500 each: uniform


def _exactly(image, canvas, rotation, shear, scale, translation, **keywords):
    """make_affine on one image (grey, or channels first) with exactly these values:
    per-axis scales, and a translation of a number or a per-axis (rows, columns) pair."""
    shift = (translation,) * 2 if np.ndim(translation) == 0 else tuple(translation)
    out, info = make_affine(
        image[None], canvas, rotation=(rotation, rotation), shear=(shear, shear),
        scale=(min(scale), max(scale)), translation=(min(shift), max(shift)),
        random_state=_FixedDraws(scale, shift), return_transforms=True, **keywords,
    )  # fmt: skip
    return out[0], info


class _FixedDraws(np.random.RandomState):
    """A RandomState whose draws of one image's two scales and two shifts are given."""

    def __init__(self, scale, shift):
        super().__init__(0)
        self.fixed = [tuple(float(v) for v in pair) for pair in (scale, shift)]

    def uniform(self, low=0.0, high=1.0, size=None):
        for pair in self.fixed:
            if size == (1, 2) and (low, high) == (min(pair), max(pair)):
                return np.array([pair])
        return super().uniform(low, high, size)


def test_known_points_move_as_the_geometry_says():
    canvas = np.zeros((1, 21, 21))
    canvas[0, 10, 15] = 1.0  # five pixels right of the centre (10, 10)
    turned = make_affine(canvas, 21, rotation=(90, 90), shear=0, scale=1, translation=0)
    assert np.argwhere(turned[0] > 0.5).tolist() == [[5, 10]]  # now five above: anticlockwise
    below = np.zeros((1, 21, 21))
    below[0, 14, 10] = 1.0  # four below the centre
    slanted = make_affine(below, 21, rotation=0, shear=(0.5, 0.5), scale=1, translation=0)
    assert np.argwhere(slanted[0] > 0.5).tolist() == [[14, 12]]  # moved right by 0.5 * 4
    grown = make_affine(below, 21, rotation=0, shear=0, scale=2, translation=0)
    assert np.argwhere(grown[0] > 0.99).tolist() == [[18, 10]]  # twice as far below
    moved = make_affine(below, 21, **IDENTITY, translation=(-3, -3), random_state=0)
    assert moved[0].sum() == 1 and moved[0].max() == 1  # whole pixels: no blur


def test_identity_transform_centres_the_image_exactly():
    images = letters()
    out = make_affine(images, 20, **IDENTITY, translation=0)
    np.testing.assert_array_equal(out[:, 4:16, 4:16], images)
    assert out.sum() == images.sum()


def test_draws_stay_within_the_ranges_and_scale_each_axis_on_its_own():
    _, info = make_affine(
        np.ones((300, 6, 6)), 12, rotation=15, shear=(0.1, 0.3), scale=(0.8, 1.2),
        translation=2, random_state=0, return_transforms=True,
    )  # fmt: skip
    assert -15 <= info.rotation.min() < -12 and 12 < info.rotation.max() <= 15
    assert 0.1 <= info.shear.min() and info.shear.max() <= 0.3
    assert 0.8 <= info.scale.min() and info.scale.max() <= 1.2
    assert abs(np.corrcoef(info.scale.T)[0, 1]) < 0.2  # rows and columns drawn apart
    assert np.abs(info.translation).max() <= 2 and set(np.unique(info.translation)) == {
        -2,
        -1,
        0,
        1,
        2,
    }


def test_fit_translation_keeps_all_content_on_the_canvas_and_uses_the_room():
    images = letters(200)
    out, info = make_affine(images, 24, random_state=0, return_transforms=True)
    # the same transforms on a canvas so large nothing can leave it, centred: the same
    # pixels (whole-pixel moves), so equal sums mean nothing was cut off
    for k in range(0, 200, 20):
        whole, _ = _exactly(
            images[k], 80, info.rotation[k], info.shear[k], info.scale[k], translation=0
        )
        assert out[k].sum() == pytest.approx(whole.astype(float).sum(), abs=1e-9)
    assert np.abs(info.translation).max() >= 5  # the content moves about the canvas


def test_fit_keeps_negative_content_on_the_canvas_too():
    images = np.zeros((50, 28, 28))
    images[:, 4:24, 4:24] = -1.0
    out = make_affine(images, 40, random_state=0)
    np.testing.assert_allclose(out.sum(axis=(1, 2)), _sums_on_a_large_canvas(images, 0))


def _sums_on_a_large_canvas(images, seed, **ranges):
    _, info = make_affine(images, 40, **ranges, random_state=seed, return_transforms=True)
    return [
        _exactly(image, 90, info.rotation[k], info.shear[k], info.scale[k], 0)[0].sum()
        for k, image in enumerate(images)
    ]


def test_fit_rounds_each_landing_to_a_pixel_that_keeps_the_content_whole():
    images = np.zeros((300, 28, 28))
    images[:, 4:24, 4:24] = 1.0  # 20×20 content, as MNIST's digits
    ranges = {"rotation": (20, 20), "scale": (1.2, 1.2)}  # some fit only just
    out = make_affine(images, 40, **ranges, random_state=0)
    expected = _sums_on_a_large_canvas(images, 0, **ranges)
    np.testing.assert_allclose(out.sum(axis=(1, 2)), expected, rtol=1e-12)


def test_boolean_images_stay_the_same_size():
    images = np.zeros((20, 28, 28), bool)
    images[:, 6:22, 12:16] = True
    out = make_affine(images, 40, rotation=(10, 10), shear=0, scale=1, random_state=0)
    assert out.dtype == bool
    as_float = make_affine(images.astype(float), 40, rotation=(10, 10), shear=0, scale=1,
                           random_state=0)  # fmt: skip
    np.testing.assert_array_equal(out, as_float >= 0.5)
    assert abs(out.sum() / images.sum() - 1) < 0.1


def test_integer_images_are_rounded_and_float_images_kept():
    images = letters(3)
    out = make_affine(images, 20, random_state=0)
    assert out.dtype == np.uint8
    as_float = make_affine(images.astype(np.float32), 20, random_state=0)
    assert as_float.dtype == np.float32
    np.testing.assert_array_equal(out, np.clip(np.round(as_float), 0, 255).astype(np.uint8))


def test_affine_sets_follow_the_seed():
    images = letters()
    np.testing.assert_array_equal(
        make_affine(images, random_state=1), make_affine(images, random_state=1)
    )
    assert not np.array_equal(
        make_affine(images, random_state=1), make_affine(images, random_state=2)
    )


@pytest.mark.parametrize(
    "keywords, message",
    [
        ({"rotation": -5}, "at least 0"),
        ({"shear": (0.3, 0.1)}, "low must not be above high"),
        ({"scale": 0}, "above 0"),
        ({"translation": "anywhere"}, "'fit' or a number"),
        ({"canvas_size": 0}, "positive int"),
        ({"rotation": "big"}, "a number or a"),
        ({"data_format": "NHWC"}, "not one of"),
        ({"rotation": np.nan}, "at least 0"),
        ({"rotation": np.inf}, "at least 0"),
        ({"scale": np.nan}, "above 0"),
        ({"scale": np.inf}, "above 0"),
        ({"scale": (1, np.inf)}, "finite"),
        ({"translation": (0, np.inf)}, "finite"),
        ({"rotation": "20"}, "a number or a"),
        ({"canvas_size": np.array([40, 40, 1])}, "positive int"),
    ],
)
def test_bad_ranges_are_refused_with_what_to_pass(keywords, message):
    with pytest.raises(ValueError, match=message):
        make_affine(np.zeros((1, 4, 4)), **{"canvas_size": 8, **keywords})


def test_numpy_scalars_and_zero_dimensional_arrays_are_numbers():
    images = letters(2)
    expected = make_affine(images, 20, rotation=5, scale=1.1, random_state=0)
    same = make_affine(images, np.int64(20), rotation=np.array(5.0), scale=np.float32(1.1),
                       random_state=0)  # fmt: skip
    np.testing.assert_array_equal(same, expected)
    assert make_affine(images, np.array(20), random_state=0).shape == (2, 20, 20)


def colour_letters(n=3):
    """uint8 RGB images, channels first: ``letters`` in grey on a background of (90, 160, 30)."""
    grey = letters(n)
    background = np.array([90, 160, 30], np.uint8)[:, None, None]
    return np.where(grey[:, None] > 0, grey[:, None], background)  # [n, 3, 12, 12]


def test_the_default_fill_is_the_black_canvas_of_before():
    images = colour_letters()
    placed, offsets = place_on_canvas(images, 20, random_state=0, return_offsets=True)
    for image, canvas, (top, left) in zip(images, placed, offsets, strict=True):
        for plane, drawn in zip(image, canvas, strict=True):
            expected = place_literal(plane.tolist(), top, left, (20, 20))
            np.testing.assert_array_equal(drawn, np.array(expected, np.uint8))
    np.testing.assert_array_equal(placed, place_on_canvas(images, 20, fill=0, random_state=0))
    turned = make_affine(images, 20, random_state=0)
    np.testing.assert_array_equal(turned, make_affine(images, 20, fill=(0, 0, 0), random_state=0))
    image = images[0, 0] / 255 + 0.1  # nonzero up to its edges: the fill blends in there
    out, _ = _exactly(image, 16, 17, 0.1, (1.1, 0.9), translation=(1, -2))
    expected = affine_literal(image, 17, 0.1, 1.1, 0.9, (1, -2), 16, fill=0.0)
    np.testing.assert_allclose(out, np.array(expected), atol=1e-12)


@pytest.mark.parametrize("fill", [7, (10, 200, 30), [255, 255, 255], "edge"])
def test_placed_images_sit_on_a_canvas_of_the_fill(fill):
    images = colour_letters()
    placed, offsets = place_on_canvas(
        images.transpose(0, 2, 3, 1), (19, 17), fill=fill, random_state=0, return_offsets=True
    )
    assert placed.dtype == np.uint8 and placed.shape == (3, 19, 17, 3)
    per_channel = [fill] * 3 if isinstance(fill, str | int) else fill
    for image, canvas, (top, left) in zip(images, placed, offsets, strict=True):
        for c, plane in enumerate(image):
            expected = place_literal(plane.tolist(), top, left, (19, 17), per_channel[c])
            np.testing.assert_array_equal(canvas[..., c], np.array(expected, np.uint8))


@pytest.mark.parametrize("fill", [0.7, (0.2, 0.5, 0.9), "edge"])
@pytest.mark.parametrize(
    "rotation, shear, scale", [(90, 0, (1, 1)), (-12, -0.2, (0.9, 1.15)), (23, 0.1, (1.3, 0.7))]
)
def test_transform_reads_the_fill_outside_the_image_as_the_reference_does(
    fill, rotation, shear, scale
):
    images = colour_letters(1)[0][:, :, 1:10] / 255 + 0.1  # [3, 12, 9] nonzero to its edges
    out, info = _exactly(images, (17, 14), rotation, shear, scale, (2, -1), fill=fill)
    np.testing.assert_array_equal(info.translation[0], (2.5, -0.5))  # as on a tall canvas
    per_channel = [fill] * 3 if isinstance(fill, str | float) else fill
    for c, image in enumerate(images):
        expected = affine_literal(image, rotation, shear, *scale, (2.5, -0.5), (17, 14),
                                  fill=per_channel[c])  # fmt: skip
        np.testing.assert_allclose(out[c], np.array(expected), atol=1e-12)


def test_a_photo_s_background_runs_on_to_the_canvas_in_its_own_dtype():
    photos = colour_letters(4).transpose(0, 2, 3, 1)  # uint8, channels last
    edge = make_affine(photos, 24, fill="edge", random_state=0)
    white = make_affine(photos, 24, fill=(255, 255, 255), random_state=0)
    assert edge.dtype == white.dtype == np.uint8
    for out in (edge, white):
        corners = out[:, [0, 0, -1, -1], [0, -1, 0, -1]]  # [4, 4, 3]
        assert (corners != 0).all()  # no black frame
    np.testing.assert_array_equal(edge[:, 0, 0], np.tile([90, 160, 30], (4, 1)))
    floats = make_affine(photos.astype(np.float64), 24, fill="edge", random_state=0)
    np.testing.assert_array_equal(edge, np.clip(np.round(floats), 0, 255).astype(np.uint8))


GREY, RGB = np.zeros((1, 4, 4)), np.zeros((1, 3, 6, 6))  # channels first


@pytest.mark.parametrize(
    "fill, images, message",
    [
        (300, GREY.astype(np.uint8), "dtype uint8, which hold whole numbers from 0 to 255"),
        (2.5, GREY.astype(np.uint8), "whole numbers"),
        (-1, GREY.astype(np.uint8), "whole numbers"),
        (2, GREY.astype(bool), "0 or 1"),
        (1e6, GREY.astype(np.float16), "numbers up to 65504"),
        ((1, 2), RGB, "holds 2 values, but the images have 3 channels: pass one value per"),
        ((1, 2, 3), GREY, "images have 1 channel: pass one value per channel"),
        ("white", GREY, "a number, one number per channel .*, or 'edge'"),
        ([[1, 2, 3]], RGB, "a number, one number per channel"),
    ],
)
@pytest.mark.parametrize("maker", [place_on_canvas, make_affine])
def test_a_fill_the_images_cannot_hold_is_refused_with_what_to_pass(maker, fill, images, message):
    with pytest.raises(ValueError, match=message):
        maker(images, 8, fill=fill)
