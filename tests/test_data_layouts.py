"""X as users hold it: channels-last images, lists, PIL images, tensors, tables.

A channels-last colour stack used to be read as 32 channels of 32×3 images, and a
standardised table of 64 columns as an 8×8 image. Each reading here is pinned by
training the same model on the channels-first form of the same data and asking for
the same predictions, so a dropped or wrong transpose fails.
"""

import copy
import json
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from shapes import make_shapes

from sklearn_capsnet import CapsNetClassifier, CapsuleTransformer, ImageShapeWarning

N = 48  # the images of conftest's colour, and of the grey stacks here


@pytest.fixture(scope="module")
def first_fit(one_epoch, colour):
    X, y = colour
    return CapsNetClassifier(**one_epoch, random_state=0).fit(X.transpose(0, 3, 1, 2), y)


def test_channels_last_colour_images_train_the_channels_first_model(
    colour, colour_model, first_fit
):
    X, _ = colour
    last = colour_model  # the same tiny network fitted on the channels-last images
    assert last.input_shape_ == (3, 12, 12) and last.data_format_ == "channels_last"
    assert first_fit.data_format_ == "channels_first"
    np.testing.assert_allclose(
        last.predict_proba(X), first_fit.predict_proba(X.transpose(0, 3, 1, 2)), atol=1e-6
    )


def test_channels_last_memmap_trains_without_being_copied_whole(
    one_epoch, colour, first_fit, tmp_path
):
    X, y = colour
    stored = np.lib.format.open_memmap(tmp_path / "X.npy", "w+", np.uint8, X.shape)
    stored[:] = X
    stored.flush()
    X_map = np.load(tmp_path / "X.npy", mmap_mode="r")
    clf = CapsNetClassifier(**one_epoch, random_state=0).fit(X_map, y)
    np.testing.assert_allclose(
        clf.predict_proba(X_map), first_fit.predict_proba(X.transpose(0, 3, 1, 2)), atol=1e-6
    )


def test_the_loader_rearranges_channels_last_rows_batch_by_batch(colour):
    from sklearn_capsnet.data.input_spec import InputSpec
    from sklearn_capsnet.data.loader import ArrayDataset, BatchLoader

    X, _ = colour
    rows = X.reshape(N, -1)
    n = rows.shape[1]
    spec = InputSpec((3, 12, 12), "channels_last", np.zeros(n), np.full(n, 255.0))
    loader = BatchLoader(ArrayDataset(rows), 16, spec=spec)
    assert loader.X is rows  # not rearranged (or copied) up front
    batches = torch.cat([x for x, _ in loader]).numpy()
    expected = X.transpose(0, 3, 1, 2).reshape(N, -1) / 255.0
    np.testing.assert_allclose(batches, expected, rtol=1e-6)


@pytest.mark.parametrize(
    "convert",
    [
        pytest.param(list, id="list of arrays"),
        pytest.param(torch.from_numpy, id="4-D tensor"),
        pytest.param(lambda X: [torch.from_numpy(x) for x in X], id="list of tensors"),
    ],
)
def test_lists_and_tensors_of_images_read_as_the_array(one_epoch, colour, first_fit, convert):
    X, y = colour
    clf = CapsNetClassifier(**one_epoch, random_state=0).fit(convert(X), y)
    assert clf.data_format_ == "channels_last"
    np.testing.assert_allclose(
        clf.predict_proba(convert(X)), first_fit.predict_proba(X.transpose(0, 3, 1, 2)), atol=1e-6
    )


@pytest.mark.parametrize(
    "column",
    [
        pytest.param(lambda X: pd.Series(list(X)), id="Series of arrays"),
        pytest.param(lambda X: pd.DataFrame({"image": list(X)})["image"], id="DataFrame column"),
        pytest.param(lambda X: pd.DataFrame({"image": list(X)}), id="one-column DataFrame"),
        pytest.param(lambda X: np.array(list(X) + [None], dtype=object)[:-1], id="object array"),
    ],
)
def test_a_column_of_images_reads_as_the_list_of_them(one_epoch, colour, first_fit, column):
    X, y = colour
    clf = CapsNetClassifier(**one_epoch, random_state=0).fit(column(X), y)
    assert (clf.input_shape_, clf.data_format_) == ((3, 12, 12), "channels_last")
    np.testing.assert_allclose(
        clf.predict_proba(column(X)), first_fit.predict_proba(X.transpose(0, 3, 1, 2)), atol=1e-6
    )


def test_a_series_of_pil_images_reads_as_the_list_of_them(colour, colour_model):
    Image = pytest.importorskip("PIL.Image")
    X, _ = colour
    images = pd.Series([Image.fromarray(x) for x in X])
    expected = colour_model.predict_proba(X)
    np.testing.assert_array_equal(colour_model.predict_proba(images), expected)


@pytest.mark.parametrize(
    "images",
    [
        pytest.param([np.full((4, 4), 200, np.uint8), np.full((4, 4), 200, np.int64)], id="int64"),
        pytest.param([np.full((4, 4), 200, np.uint8), np.full((4, 4), 99.5)], id="0-255 floats"),
        pytest.param([np.full((4, 4), 0.5), np.ones((4, 4), np.uint8)], id="a dark 8-bit"),
        pytest.param([np.full((4, 4), 9, np.uint8), np.zeros((4, 4), bool)], id="a blank mask"),
        pytest.param([np.full((4, 4), 300, np.uint16), np.full((4, 4), 9, np.uint16)], id="16"),
    ],
)
def test_images_of_several_dtypes_in_one_scale_stack(images):
    from sklearn_capsnet.data.arrays import as_array

    np.testing.assert_array_equal(as_array(images), np.stack(images))


def test_pil_images_read_as_channels_last_arrays(one_epoch, colour, first_fit):
    Image = pytest.importorskip("PIL.Image")
    X, y = colour
    images = [Image.fromarray(x) for x in X]
    clf = CapsNetClassifier(**one_epoch, random_state=0).fit(images, y)
    np.testing.assert_allclose(
        clf.predict_proba(images), first_fit.predict_proba(X.transpose(0, 3, 1, 2)), atol=1e-6
    )


def test_grey_stacks_with_and_without_a_channel_axis_are_one_model(one_epoch):
    X, y = make_shapes(N, size=(10, 10), n_classes=3, seed=0)  # (n, 100)
    X = X.reshape(N, 10, 10)
    plain = CapsNetClassifier(**one_epoch, random_state=0).fit(X, y)
    keras = CapsNetClassifier(**one_epoch, random_state=0).fit(X[..., None], y)  # (n, 10, 10, 1)
    torch_style = CapsNetClassifier(**one_epoch, random_state=0).fit(
        X[:, None], y
    )  # (n, 1, 10, 10)
    assert plain.input_shape_ == keras.input_shape_ == torch_style.input_shape_ == (1, 10, 10)
    expected = plain.predict_proba(X)
    np.testing.assert_allclose(keras.predict_proba(X[..., None]), expected, atol=1e-6)
    np.testing.assert_allclose(torch_style.predict_proba(X), expected, atol=1e-6)


def test_reconstructions_come_back_in_the_layout_of_x(colour, colour_model, first_fit):
    X, _ = colour
    images = colour_model.reconstruct(X)
    assert images.shape == (N, 12, 12, 3)
    expected = first_fit.reconstruct(X.transpose(0, 3, 1, 2))  # [N, 3, 12, 12]
    np.testing.assert_allclose(images, expected.transpose(0, 2, 3, 1), atol=1e-4)


TALL = (10, 14)  # height, width: not square, so rows and columns cannot be swapped unseen


@pytest.mark.parametrize(
    "layout",
    [
        pytest.param(lambda X: X[..., 0], id="grey (n, h, w)"),
        pytest.param(lambda X: X[..., :1].transpose(0, 3, 1, 2), id="grey (n, 1, h, w)"),
        pytest.param(lambda X: X, id="uint8 channels last (n, h, w, 3)"),
        pytest.param(lambda X: X.transpose(0, 3, 1, 2), id="channels first (n, 3, h, w)"),
    ],
)
def test_reconstruct_and_decode_answer_images_in_the_shape_of_x(one_epoch, layout):
    X, y = make_shapes(N, size=TALL, channels=3, n_classes=3, seed=0)
    X = layout(X.reshape(N, *TALL, 3))
    clf = CapsNetClassifier(**one_epoch, random_state=0).fit(X, y)
    images = clf.reconstruct(X[:5])
    assert images.shape == X[:5].shape and images.dtype == np.float32
    rows = clf.reconstruct(X[:5].reshape(5, -1))  # flat rows in X's order stay flat
    assert rows.shape == (5, X[0].size)
    np.testing.assert_array_equal(images, rows.reshape(X[:5].shape))
    decoded = clf.decode(clf.capsules(X[:5]))  # no X: the shape of the images fit saw
    np.testing.assert_allclose(decoded, images, rtol=1e-5)  # the same drawing, another road
    unpickled = pickle.loads(pickle.dumps(clf))
    assert unpickled.decode(clf.capsules(X[:1])).shape == X[:1].shape


def test_a_model_fitted_on_flat_rows_decodes_flat_rows(one_epoch, digits):
    X_train, X_test, y_train, _ = digits  # rows of 64 pixels, read as 8×8 images
    clf = CapsNetClassifier(**one_epoch, input_shape=(1, 8, 8), random_state=0)
    clf.fit(X_train[:64], y_train[:64])
    rows = clf.reconstruct(X_test[:3])
    assert rows.shape == (3, 64)
    np.testing.assert_allclose(clf.decode(clf.capsules(X_test[:3])), rows, rtol=1e-5)
    images = clf.reconstruct(X_test[:3].reshape(3, 8, 8))  # images in: images out
    np.testing.assert_array_equal(images, rows.reshape(3, 8, 8))


def _layout_read(X, sample_shape, data_format):
    """``(shape, data_format)`` of the input spec that ``fit`` would read from ``X``."""
    from sklearn_capsnet.data.input_spec import InputSpec

    spec = InputSpec.from_training_data(X, sample_shape, data_format=data_format)
    return spec.shape, spec.data_format


@pytest.mark.parametrize(
    "shape, data_format, expected",
    [
        ((28, 28, 1), "auto", ((1, 28, 28), "channels_last")),
        ((32, 32, 3), "auto", ((3, 32, 32), "channels_last")),
        ((32, 32, 4), "auto", ((4, 32, 32), "channels_last")),
        ((3, 32, 32), "auto", ((3, 32, 32), "channels_first")),
        ((1, 28, 28), "auto", ((1, 28, 28), "channels_first")),
        ((28, 28), "auto", ((1, 28, 28), "channels_first")),
        ((32, 32, 3), "channels_first", ((32, 32, 3), "channels_first")),
        ((3, 32, 32), "channels_last", ((32, 3, 32), "channels_last")),
    ],
)
def test_the_channel_axis_is_read_by_the_documented_rule(shape, data_format, expected):
    X = np.zeros((2, int(np.prod(shape))))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ImageShapeWarning)  # none of these is ambiguous
        found = _layout_read(X, shape, data_format)
    assert found == expected


@pytest.mark.parametrize(
    "shape, expected",
    [
        ((10, 12, 6), ((6, 10, 12), "channels_last")),
        ((5, 12, 8), ((5, 12, 8), "channels_first")),
        ((3, 3, 3), ((3, 3, 3), "channels_first")),
        ((1, 30, 3), ((1, 30, 3), "channels_first")),  # one grey 30×3, or an RGB 1×30 strip
        ((2, 50, 3), ((3, 2, 50), "channels_last")),  # 3 is a channel count, 2 is not
        ((3, 50, 2), ((3, 50, 2), "channels_first")),  # though 2 is the shorter end
    ],
)
def test_an_ambiguous_channel_axis_is_announced(shape, expected):
    X = np.zeros((2, int(np.prod(shape))))
    with pytest.warns(ImageShapeWarning, match="data_format='channels_first' or 'channels_last'"):
        found = _layout_read(X, shape, "auto")
    assert found == expected


def test_the_warning_counts_one_channel_in_the_singular():
    with pytest.warns(ImageShapeWarning, match=r"\(1 channel of 30×3\): its last axis, 3, could"):
        _layout_read(np.zeros((2, 90)), (1, 30, 3), "auto")


def test_small_pil_colour_images_are_channels_last_without_a_rule(one_epoch):
    Image = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (N, 2, 50, 3), dtype=np.uint8)  # 2 rows: RGB is the rule's
    y = np.arange(N) % 3  # guess only by the channel count; PIL says it
    for mode, images in (("RGB", pixels), ("LA", pixels[..., :2])):
        with warnings.catch_warnings():
            warnings.simplefilter("error", ImageShapeWarning)
            clf = CapsNetClassifier(**one_epoch).fit([Image.fromarray(x, mode) for x in images], y)
        assert (clf.input_shape_, clf.data_format_) == ((images.shape[-1], 2, 50), "channels_last")


def test_a_model_fitted_on_single_pixel_images_predicts_them(one_epoch):
    X = np.random.default_rng(0).random((N, 1, 1))  # a table of one feature, as an image stack
    clf = CapsNetClassifier(**one_epoch).fit(X, np.arange(N) % 2)
    assert clf.predict(X).shape == (N,) and clf.reconstruct(X).shape == X.shape


def test_an_input_shape_given_for_channels_last_data_is_matched_not_scrambled(
    one_epoch, colour, first_fit
):
    X, y = colour
    clf = CapsNetClassifier(**one_epoch, input_shape=(3, 12, 12), random_state=0).fit(X, y)
    assert clf.data_format_ == "channels_last"
    np.testing.assert_allclose(
        clf.predict_proba(X), first_fit.predict_proba(X.transpose(0, 3, 1, 2)), atol=1e-6
    )


def test_an_input_shape_that_fits_neither_layout_is_refused(one_epoch, colour):
    X, y = colour
    with pytest.raises(ValueError, match=r"input_shape=\(3, 6, 24\).*\(12, 12, 3\)"):
        CapsNetClassifier(**one_epoch, input_shape=(3, 6, 24)).fit(X, y)


def test_flat_channels_last_rows_follow_data_format(one_epoch, colour, first_fit):
    X, y = colour
    clf = CapsNetClassifier(
        **one_epoch, input_shape=(3, 12, 12), data_format="channels_last", random_state=0
    ).fit(X.reshape(N, -1), y)
    np.testing.assert_allclose(
        clf.predict_proba(X.reshape(N, -1)),
        first_fit.predict_proba(X.transpose(0, 3, 1, 2)),
        atol=1e-6,
    )


# -- tables stay tables ------------------------------------------------------------------


def _standardised(n_features, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(40, n_features)) * rng.uniform(0.1, 100, n_features)
    return (X - X.mean(0)) / X.std(0), rng.integers(0, 2, 40)


@pytest.mark.parametrize("n_features", [64, 100])
def test_a_standardised_square_table_trains_as_a_table(one_epoch, n_features):
    X, y = _standardised(n_features)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ImageShapeWarning)
        clf = CapsNetClassifier(**one_epoch, random_state=0).fit(X, y)
    assert clf.input_shape_ == (n_features, 1, 1)
    assert clf.net_.iterator_train__shift == 0
    assert len(np.unique(clf.input_scale_)) > 1  # one range per column


@pytest.mark.parametrize("low, high", [(-5, 5), (0, 1000)], ids=["negative", "beyond 255"])
def test_whole_numbers_outside_the_pixel_range_are_a_table(one_epoch, low, high):
    X = np.random.default_rng(0).integers(low, high + 1, size=(30, 64))
    clf = CapsNetClassifier(**one_epoch, random_state=0).fit(X, np.arange(30) % 2)
    assert clf.input_shape_ == (64, 1, 1)


@pytest.mark.parametrize("n_features", [4, 9, 16, 25, 36, 49])
def test_rows_shorter_than_64_are_a_table_even_of_pixel_values(one_epoch, n_features):
    X = np.random.default_rng(0).integers(0, 256, size=(30, n_features))
    clf = CapsNetClassifier(**one_epoch, random_state=0).fit(X, np.arange(30) % 2)
    assert clf.input_shape_ == (n_features, 1, 1)


def test_flat_digit_rows_are_read_as_images_and_the_estimator_says_so(one_epoch, digits):
    X_train, _, y_train, _ = digits
    with pytest.warns(
        ImageShapeWarning, match=r"8×8 one-channel images.*input_shape=\(64, 1, 1\)"
    ):
        clf = CapsNetClassifier(**one_epoch, random_state=0).fit(X_train[:64], y_train[:64])
    assert clf.input_shape_ == (1, 8, 8)
    assert clf.net_.iterator_train__shift == 1


def test_a_dataframe_of_784_pixel_columns_is_read_as_28x28_images(one_epoch):
    X, y = make_shapes(20, n_classes=2, seed=0)  # (n, 784) uint8, like fetch_openml's MNIST
    frame = pd.DataFrame(X.reshape(20, -1).astype(np.float64))
    frame.columns = [f"pixel{k + 1}" for k in range(784)]
    with pytest.warns(ImageShapeWarning, match="28×28"):
        clf = CapsNetClassifier(**one_epoch, random_state=0).fit(frame, y)
    assert clf.input_shape_ == (1, 28, 28)


def test_an_explicit_input_shape_keeps_a_pixel_like_table_a_table(one_epoch, digits):
    X_train, _, y_train, _ = digits
    with warnings.catch_warnings():
        warnings.simplefilter("error", ImageShapeWarning)
        clf = CapsNetClassifier(**one_epoch, input_shape=(64, 1, 1), random_state=0)
        clf.fit(X_train[:64], y_train[:64])
    assert clf.input_shape_ == (64, 1, 1)


# -- errors at predict and bad input ---------------------------------------------------------


def _unchanged_after(fitted, call):
    before = fitted.predict_proba(_colour_first(fitted))
    with pytest.raises(ValueError) as error:
        call()
    np.testing.assert_array_equal(fitted.predict_proba(_colour_first(fitted)), before)
    return str(error.value)


def _colour_first(fitted):
    X, _ = make_shapes(4, size=(12, 12), channels=3, n_classes=3, seed=1)
    return X.reshape(4, 12, 12, 3).transpose(0, 3, 1, 2)


def test_predicting_the_other_layout_names_the_transpose(colour, first_fit):
    X, _ = colour
    message = _unchanged_after(first_fit, lambda: first_fit.predict(X))
    assert "np.moveaxis(X, -1, 1)" in message and "(3, 12, 12)" in message


def test_predicting_channels_first_after_a_channels_last_fit_names_the_transpose(
    colour, colour_model
):
    X, _ = colour
    with pytest.raises(ValueError, match=r"channels last; .* np\.moveaxis\(X, 1, -1\)"):
        colour_model.predict(X.transpose(0, 3, 1, 2))


def test_predicting_another_size_says_resize_not_feature_counts(first_fit):
    X, _ = make_shapes(4, size=(14, 14), channels=3, n_classes=3, seed=1)
    message = _unchanged_after(first_fit, lambda: first_fit.predict(X.reshape(4, 3, 14, 14)))
    assert "resize X" in message and "features" not in message


def test_predicting_another_channel_count_names_the_channels(first_fit):
    grey = np.zeros((4, 1, 12, 12), np.uint8)
    message = _unchanged_after(first_fit, lambda: first_fit.predict(grey))
    assert "1 channel where it expects 3" in message
    assert "image.convert('RGB') gives 3" in message  # the mode that gives what it expects


@pytest.fixture(scope="module")
def grey_fit(one_epoch, colour):
    X, y = colour
    return CapsNetClassifier(**one_epoch, random_state=0).fit(X[..., 0], y)


def _with_alpha(X):
    return np.concatenate([X, X[..., :1]], axis=-1)


@pytest.mark.parametrize(
    "model, make",
    [
        ("colour_model", lambda X: X[:, None, :, :, 0]),  # grey, channels first
        ("colour_model", lambda X: _with_alpha(X).transpose(0, 3, 1, 2)),
        ("first_fit", lambda X: X[..., :1]),  # grey, channels last
        ("first_fit", _with_alpha),
    ],
)
def test_no_array_fix_is_offered_in_the_layout_the_model_does_not_read(
    request, colour, model, make
):
    # the array's fix would keep its layout, which the model would then refuse: the
    # message names the channels; the layout's own message comes next
    with pytest.raises(ValueError, match="where it expects 3") as error:
        request.getfixturevalue(model).predict(make(colour[0][:4]))
    assert "an array:" not in str(error.value)


@pytest.mark.parametrize(
    "model, make, fix",
    [
        ("colour_model", lambda X: X[..., 0], "np.repeat(X[..., None], 3, axis=-1)"),
        ("colour_model", lambda X: X[..., :1], "np.repeat(X, 3, axis=-1)"),
        ("colour_model", _with_alpha, "X[..., :3]"),
        ("first_fit", lambda X: X[..., 0], "np.repeat(X[:, None], 3, axis=1)"),
        ("first_fit", lambda X: X[:, None, :, :, 0], "np.repeat(X, 3, axis=1)"),
        ("first_fit", lambda X: _with_alpha(X).transpose(0, 3, 1, 2), "X[:, :3]"),
        ("grey_fit", lambda X: X, "X.mean(axis=-1)"),
        ("grey_fit", lambda X: X.transpose(0, 3, 1, 2), "X.mean(axis=1)"),
    ],
)
def test_another_channel_count_is_told_an_array_fix_that_works(request, colour, model, make, fix):
    fitted = request.getfixturevalue(model)
    X = make(colour[0][:4])
    with pytest.raises(ValueError) as error:
        fitted.predict(X)
    assert str(error.value).endswith(f"; an array: {fix}.")
    assert fitted.predict(eval(fix, {"np": np, "X": X})).shape == (4,)  # the fix as written


@pytest.mark.parametrize(
    "X, match",
    [
        (np.zeros((4, 2, 3, 8, 8)), "5 dimensions"),
        (np.zeros((4, 0, 8)), "empty axis"),
        (
            [np.zeros((8, 8))] * 3 + [np.zeros((8, 9)), np.zeros((8, 8))],
            r"2 different shapes: 4 of shape \(8, 8\) \(the first X\[0\]\), "
            r"1 of shape \(8, 9\) \(the first X\[3\]\)",
        ),
        ([np.zeros((8, 8, 3)), np.zeros((8, 8, 4))], r"different shapes.*convert\('RGB'\)"),
        (
            [np.zeros((8, 8 + k)) for k in range(7)] + [np.zeros((8, 14))] * 2,
            r"7 different shapes: 3 of shape \(8, 14\) \(the first X\[6\]\), "
            r"(1 of shape \(8, \d+\) \(the first X\[\d\]\), ){3}"
            r"1 of shape \(8, \d+\) \(the first X\[\d\]\) and 2 more\. .*"
            r"resize\(\(width, height\)\)",
        ),
        (
            [np.full((8, 8), 200, np.uint8), np.full((8, 8), 50_000, np.uint16)] * 2,
            r"different units: 8-bit pixels \(uint8, the first X\[0\]\), values "
            r"above 255 \(16-bit or wider\) \(uint16, the first X\[1\]\).* / 65535",
        ),
        (
            [np.full((8, 8), 0.0), np.full((8, 8), 200, np.uint8), np.full((8, 8), 0.5)],
            r"different units: 8-bit pixels \(uint8, the first X\[1\]\), values "
            r"in \[0, 1\] \(float64, the first X\[2\]\)",
        ),
    ],
    ids=[
        "5-D", "empty axis", "sizes differ", "channels differ", "many sizes",
        "8 and 16 bits", "8 bits and [0, 1] floats",
    ],
)  # fmt: skip
@pytest.mark.parametrize("cls", [CapsNetClassifier, CapsuleTransformer])
def test_bad_image_stacks_are_refused_before_training(one_epoch, cls, X, match):
    y = np.arange(len(X)) % 2
    with pytest.raises(ValueError, match=match):
        cls(**one_epoch).fit(X, y)


def test_displays_draw_channels_last_rows_as_the_images_they_are(colour):
    from sklearn_capsnet.plotting.drawing import images_to_draw as _as_images

    X, _ = colour
    drawn_last = _as_images(X[:4].reshape(4, -1), (3, 12, 12), "channels_last")
    drawn_first = _as_images(X[:4].transpose(0, 3, 1, 2).reshape(4, -1), (3, 12, 12))
    np.testing.assert_array_equal(drawn_last, drawn_first)
    low, high = X[:4].min(), X[:4].max()
    np.testing.assert_allclose(drawn_last, (X[:4] - low) / (high - low))


def test_a_channels_last_memmap_is_read_in_place(colour, tmp_path):
    from sklearn_capsnet.data.validation import as_rows

    X, y = colour
    np.save(tmp_path / "X.npy", X)
    X_map = np.load(tmp_path / "X.npy", mmap_mode="r")
    rows, _, sample_shape = as_rows(CapsNetClassifier(), X_map, y, reset=True)
    assert sample_shape == (12, 12, 3)
    assert np.shares_memory(rows, X_map)  # a view: the loader rearranges batch by batch


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda X: np.zeros((4, 12, 12, 4), np.uint8), "4 channels where it expects 3"),
        (lambda X: np.zeros((4, 12, 12), np.uint8), "1 channel where it expects 3"),
        (
            lambda X: torch.from_numpy(X[:4].transpose(0, 3, 1, 2).copy()),
            r"X\.permute\(0, 2, 3, 1\)",
        ),
        (lambda X: np.zeros((4, 1, 12, 12), np.uint8), "1 channel where it expects 3"),
    ],
    ids=["RGBA", "grey stack", "tensor, other layout", "grey channels first"],
)
def test_a_channels_last_model_says_what_differs_at_predict(colour, colour_model, make, match):
    X, _ = colour
    before = colour_model.predict_proba(X[:4])
    with pytest.raises(ValueError, match=match):
        colour_model.predict(make(X))
    np.testing.assert_array_equal(colour_model.predict_proba(X[:4]), before)


def test_a_grey_model_given_colour_names_the_channels(one_epoch):
    X, y = make_shapes(N, size=(12, 12), n_classes=3, seed=0)
    grey = CapsNetClassifier(**one_epoch, random_state=0).fit(X.reshape(N, 12, 12), y)
    with pytest.raises(ValueError, match="3 channels where it expects 1"):
        grey.predict(np.zeros((4, 3, 12, 12)))
    with pytest.raises(ValueError, match=r"3 channels where it expects 1.*convert\('L'\) gives 1"):
        grey.predict(np.zeros((4, 12, 12, 3)))


def test_a_table_model_given_images_says_it_was_fitted_on_a_table(one_epoch):
    X, y = _standardised(64)
    table = CapsNetClassifier(**one_epoch, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="fitted on a table of 64 features"):
        table.predict(np.zeros((2, 8, 8)))


def test_a_grey_input_shape_with_channels_last_accepts_a_plain_stack(one_epoch):
    X, y = make_shapes(N, size=(12, 12), n_classes=3, seed=0)
    clf = CapsNetClassifier(**one_epoch, input_shape=(1, 12, 12), data_format="channels_last")
    assert clf.fit(X.reshape(N, 12, 12), y).input_shape_ == (1, 12, 12)


def test_a_channels_last_model_saves_loads_and_trains_on(colour, colour_model, tmp_path):
    X, y = colour
    colour_model.save(tmp_path / "model.safetensors")
    loaded = CapsNetClassifier.load(tmp_path / "model.safetensors")
    assert loaded.data_format_ == "channels_last"
    np.testing.assert_allclose(loaded.predict_proba(X), colour_model.predict_proba(X), atol=1e-6)
    with pytest.raises(ValueError, match="channels last"):
        loaded.partial_fit(X.transpose(0, 3, 1, 2), y)
    loaded.partial_fit(X, y)
    assert loaded.data_format_ == "channels_last"


def test_the_model_file_records_the_shape_of_the_training_images(colour_model, tmp_path):
    from safetensors import safe_open

    colour_model.save(tmp_path / "model.safetensors")
    with safe_open(str(tmp_path / "model.safetensors"), framework="pt") as handle:
        description = json.loads(handle.metadata()["sklearn-capsnet"])
    assert description["fitted"]["sample_shape"] == [12, 12, 3]  # what decode answers in


def test_displays_read_a_channels_last_model_s_images(colour, colour_model):
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from sklearn_capsnet.plotting import PerturbationDisplay, ReconstructionDisplay

    X, _ = colour
    display = ReconstructionDisplay.from_estimator(colour_model, X, n_images=3)
    assert display.data_format == "channels_last"
    np.testing.assert_array_equal(display.originals, X[:3].reshape(3, -1))
    assert display.reconstructions.shape == (3, 12 * 12 * 3)  # rows, as documented
    PerturbationDisplay.from_estimator(colour_model, X[0], dims=[0])
    with pytest.raises(ValueError, match="channels last"):
        ReconstructionDisplay.from_estimator(colour_model, X.transpose(0, 3, 1, 2), n_images=3)
    plt.close("all")


def test_min_max_scaled_rows_count_as_unit_range_despite_rounding():
    from sklearn_capsnet.data.value_range import looks_like_pixels

    assert looks_like_pixels(np.array([[0.0, 0.5, 1.0 + 2e-16]]))
    assert not looks_like_pixels(np.array([[0.0, 0.5, 1.5]]))


def test_bfloat16_tensors_and_palette_images_are_read():
    from sklearn_capsnet.data.arrays import as_array

    assert as_array(torch.ones(2, 4, 4, dtype=torch.bfloat16)).dtype == np.float32
    Image = pytest.importorskip("PIL.Image")
    palette = Image.new("RGB", (5, 4), (200, 10, 10)).convert("P")
    assert as_array([palette, palette]).shape == (2, 4, 5, 3)
    clear = palette.copy()
    clear.info["transparency"] = 0  # read as RGBA: the list holds two shapes
    with pytest.raises(ValueError, match="Palette images .* RGBA where they have transparency"):
        as_array([palette, clear])


def test_the_former_channels_last_switch_names_its_replacements(one_epoch):
    X, y = make_shapes(20, size=(8, 8), n_classes=2, seed=0)
    with pytest.raises(ValueError, match='memory_format="channels_last".*data_format='):
        CapsNetClassifier(**one_epoch, channels_last=True).fit(X.reshape(20, 8, 8), y)


@pytest.mark.parametrize(
    "X",
    [
        np.zeros((4, 2, 12, 12, 3)),
        np.zeros((4, 0, 12, 3)),
        [np.zeros((12, 12, 3)), np.zeros((12, 11, 3))],
        [np.zeros((12, 12, 3)), np.zeros((12, 12, 4))],
    ],
    ids=["5-D", "empty axis", "sizes differ", "channels differ"],
)
def test_bad_image_stacks_leave_a_fitted_model_as_it_was(colour, colour_model, X):
    X_ok, _ = colour
    clf = copy.deepcopy(colour_model)  # its own: a failing fit could change it
    before = clf.predict_proba(X_ok)
    with pytest.raises(ValueError):
        clf.fit(X, np.arange(len(X)) % 2)
    with pytest.raises(ValueError):
        clf.partial_fit(X, np.arange(len(X)) % 2)
    np.testing.assert_array_equal(clf.predict_proba(X_ok), before)
    assert clf.input_shape_ == (3, 12, 12) and clf.data_format_ == "channels_last"


def test_one_image_with_the_channels_on_the_other_side_is_told_both_fixes(
    colour, colour_model, first_fit
):
    X, _ = colour
    image = X[0].transpose(2, 0, 1)  # one channels-first image for the channels-last model
    with pytest.raises(ValueError, match=r"one image with its channels first.*"
                       r"np\.moveaxis\(X, 0, -1\)\[None\] \(a torch tensor: "
                       r"X\.permute\(1, 2, 0\)\[None\]\)"):  # fmt: skip
        colour_model.predict(torch.from_numpy(image))
    assert colour_model.predict(np.moveaxis(image, 0, -1)[None]).shape == (1,)
    with pytest.raises(ValueError, match=r"one image with its channels last.*"
                       r"np\.moveaxis\(X, -1, 0\)\[None\]"):  # fmt: skip
        first_fit.predict(X[0])
    assert first_fit.predict(np.moveaxis(X[0], -1, 0)[None]).shape == (1,)


def test_three_grey_images_for_a_colour_model_are_also_told_they_would_not_fit(
    colour, colour_model
):
    X, _ = colour
    message = r"one image with its channels first.*\(As 3 images of one channel each, X would "
    with pytest.raises(ValueError, match=message + "not fit either: the model expects 3"):
        colour_model.predict(X[:3, :, :, 0])


def test_one_grey_image_for_a_colour_model_is_told_the_channels_it_needs(colour, colour_model):
    X, _ = colour
    with pytest.raises(ValueError, match=r"one 12×12 image of 1 channel, but CapsNetClassifier "
                       r"was fitted on images of 3 channels.*convert\('RGB'\)"):  # fmt: skip
        colour_model.predict(X[0, :, :, 0])


def test_one_image_without_a_batch_axis_is_told_to_add_one(colour, colour_model):
    X, _ = colour
    with pytest.raises(ValueError, match=r"one image, not a batch of images; pass X\[None\]"):
        colour_model.predict(X[0])
    assert colour_model.predict(X[0][None]).shape == (1,)
    Image = pytest.importorskip("PIL.Image")
    with pytest.raises(ValueError, match=r"one PIL image; pass a list of images"):
        colour_model.predict(Image.fromarray(X[0]))
    assert colour_model.predict([Image.fromarray(X[0])]).shape == (1,)
