"""Reconstruction error and coupling coefficients of digits_images_model estimators, against
independent computations (float64 loops of the paper's equations, numpy)."""

import numpy as np
import pytest
import torch
from reference import (
    float64_copy,
    inverted_attention_with,
    routing_one_example,
    self_attention_one_example,
    votes_loop,
)
from sklearn.datasets import make_multilabel_classification

from sklearn_capsnet import CapsNetClassifier, CapsuleTransformer
from sklearn_capsnet._testing import tiny
from sklearn_capsnet.plotting import CouplingDisplay, coupling_maps

IMAGES = (1, 8, 8)


@pytest.fixture(scope="module")
def digits_images_model(digits):
    X_train, _, y_train, _ = digits
    return CapsNetClassifier(**tiny(max_epochs=15, input_shape=IMAGES), random_state=0).fit(
        X_train, y_train
    )


def network_input(estimator, X):
    """Rows as the network reads them: (X - offset) / scale, channels first, float64."""
    X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
    return (X - estimator.input_offset_) / estimator.input_scale_


def test_reconstruction_error_is_the_rms_pixel_difference_in_the_networks_units(
    digits_images_model, digits
):
    _, X_test, _, _ = digits
    errors = digits_images_model.reconstruction_error(X_test)
    assert errors.shape == (len(X_test),) and errors.dtype == np.float32
    decoded = network_input(digits_images_model, digits_images_model.reconstruct(X_test))
    expected = np.sqrt(((decoded - network_input(digits_images_model, X_test)) ** 2).mean(axis=1))
    np.testing.assert_allclose(errors, expected, rtol=1e-4, atol=1e-6)
    assert 0 < errors.min() and errors.max() < 1


def _relative_error(x, drawn, channel_axis):
    """numpy: the difference less its mean over each channel's pixels, as an RMS, over
    x's standard deviation (floored at 0.001); x and drawn in the network's units."""
    x, difference = x.reshape(len(x), -1), (drawn - x)
    if channel_axis is None:
        centred = difference.reshape(len(x), -1)
        centred = centred - centred.mean(axis=1, keepdims=True)
    else:
        pixels = tuple(a for a in range(1, difference.ndim) if a != channel_axis)
        centred = difference - difference.mean(axis=pixels, keepdims=True)
    rms = np.sqrt((centred.reshape(len(x), -1) ** 2).mean(axis=1))
    return rms / np.maximum(x.std(axis=1), 1e-3)


def test_relative_reconstruction_error_forgives_a_colour_cast_and_divides_by_contrast(
    colour_model, colour
):
    X, _ = colour
    offset, scale = colour_model.input_offset_, colour_model.input_scale_
    assert np.ptp(offset) == 0 and np.ptp(scale) == 0  # one range for every pixel
    x = (X.astype(np.float64) - offset[0]) / scale[0]  # (n, 12, 12, 3), channels last
    drawn = (colour_model.reconstruct(X).astype(np.float64) - offset[0]) / scale[0]
    errors = colour_model.reconstruction_error(X, relative=True)
    assert errors.dtype == np.float32
    np.testing.assert_allclose(errors, _relative_error(x, drawn, 3), rtol=1e-4)
    plain = colour_model.reconstruction_error(X)
    assert not np.allclose(errors, plain / np.maximum(x.reshape(48, -1).std(axis=1), 1e-3))
    flat = np.full((2, 12, 12, 3), 128, dtype=np.uint8)  # no contrast: the floor divides
    x = (flat - offset[0]) / scale[0]
    drawn = (colour_model.reconstruct(flat).astype(np.float64) - offset[0]) / scale[0]
    np.testing.assert_allclose(
        colour_model.reconstruction_error(flat, relative=True),
        _relative_error(x, drawn, 3),
        rtol=1e-4,
    )


def test_relative_reconstruction_error_of_a_table_centres_the_whole_row():
    X, y = make_multilabel_classification(n_samples=60, n_features=6, random_state=0)
    clf = CapsNetClassifier(**tiny(max_epochs=1, input_shape=(6, 1, 1)), random_state=0)
    clf.fit(X, y[:, 0])
    x = network_input(clf, X)
    drawn = network_input(clf, clf.reconstruct(X))
    errors = clf.reconstruction_error(X, relative=True)
    np.testing.assert_allclose(errors, _relative_error(x, drawn, None), rtol=1e-4)
    assert errors.min() > 0


def test_relative_error_of_a_one_feature_table_is_refused_and_relative_must_be_a_bool():
    X = np.random.default_rng(0).random((20, 1))  # one value: its contrast is always 0
    clf = CapsNetClassifier(**tiny(max_epochs=1), random_state=0)
    clf.fit(X, np.arange(20) % 2)
    with pytest.raises(ValueError, match="one value per sample, whose error less its mean is"):
        clf.reconstruction_error(X, relative=True)
    with pytest.raises(TypeError, match="relative must be True or False, got 'yes'"):
        clf.reconstruction_error(X, relative="yes")
    assert clf.reconstruction_error(X).shape == (20,)


def test_reconstruction_error_does_not_depend_on_the_units_of_X(digits):
    X_train, X_test, y_train, _ = digits
    errors = []
    for factor in (1.0, 1000.0):  # digits in 0-16, or in 0-16000
        clf = CapsNetClassifier(**tiny(max_epochs=2, input_shape=IMAGES), random_state=0)
        clf.fit(X_train[:200] * factor, y_train[:200])
        errors.append(clf.reconstruction_error(X_test[:50] * factor))
    np.testing.assert_allclose(errors[0], errors[1], rtol=1e-3)


def test_inputs_unlike_the_training_data_reconstruct_worse(digits_images_model, digits):
    _, X_test, _, _ = digits
    rng = np.random.default_rng(0)
    noise = rng.uniform(0, 16, X_test.shape)
    shuffled = np.array([rng.permutation(row) for row in X_test])
    held_out = np.median(digits_images_model.reconstruction_error(X_test))
    assert np.median(digits_images_model.reconstruction_error(noise)) > 1.5 * held_out
    assert np.median(digits_images_model.reconstruction_error(shuffled)) > 1.2 * held_out


def test_multilabel_reconstruction_error_decodes_every_active_capsule():
    X, Y = make_multilabel_classification(
        n_samples=200, n_features=16, n_classes=4, n_labels=2, random_state=0
    )
    clf = CapsNetClassifier(**tiny(max_epochs=10, input_shape=(16, 1, 1)), random_state=0)
    clf.fit(X, Y)
    assert (clf.predict(X).sum(axis=1) > 1).any()  # several active capsules somewhere
    decoded = network_input(clf, clf.reconstruct(X))
    expected = np.sqrt(((decoded - network_input(clf, X)) ** 2).mean(axis=1))
    np.testing.assert_allclose(clf.reconstruction_error(X), expected, rtol=1e-4, atol=1e-6)


def reference_coupling(estimator, X):
    """Coupling of the float64 per-example loops, from a float64 copy of the network."""
    double = float64_copy(estimator)
    x = torch.as_tensor(network_input(estimator, X)).view(len(X), *double.input_shape)
    routing = double.classes.routing
    rows = []
    with torch.no_grad():
        for u_hat in votes_loop(double, x):
            if estimator.routing == "dynamic":
                _, c = routing_one_example(u_hat, estimator.routing_iterations, True)
            elif estimator.routing == "inverted_attention":
                _, c, _ = inverted_attention_with(routing, u_hat)
            else:
                _, c = self_attention_one_example(u_hat, routing.log_prior, True)
            rows.append(c)
    return torch.stack(rows).numpy()


@pytest.mark.parametrize("routing", ["dynamic", "self_attention", "inverted_attention"])
def test_coupling_coefficients_match_the_float64_routing_loops(digits, routing):
    X_train, X_test, y_train, _ = digits
    names = np.array(list("abcdefghij"))[y_train[:150]]  # string classes: columns follow classes_
    clf = CapsNetClassifier(
        **tiny(max_epochs=3, input_shape=IMAGES, routing=routing, routing_iterations=2),
        random_state=0,
    ).fit(X_train[:150], names)
    coupling = clf.coupling_coefficients(X_test[:4])
    assert coupling.shape == (4, 4 * 2 * 2, 10) and coupling.dtype == np.float32
    np.testing.assert_allclose(coupling, reference_coupling(clf, X_test[:4]), atol=2e-5)
    if routing != "self_attention":  # c + b there: rows sum to 1 + Σ_j b_nj
        np.testing.assert_allclose(coupling.sum(axis=2), 1.0, atol=1e-5)


def test_coupling_coefficients_are_computed_one_prediction_batch_at_a_time(
    digits_images_model, digits
):
    _, X_test, _, _ = digits
    sizes = []
    real = digits_images_model.net_.forward_coupling

    def spy(x, precision=None):
        sizes.append(len(x))
        return real(x, precision)

    digits_images_model.net_.forward_coupling = spy
    try:
        digits_images_model.set_params(predict_batch_size=7)
        coupling = digits_images_model.coupling_coefficients(X_test[:30])
    finally:
        digits_images_model.set_params(predict_batch_size=None)
        del digits_images_model.net_.forward_coupling
    assert sizes == [7] * 5  # 30 rows: four full batches and a padded one
    np.testing.assert_allclose(
        coupling, digits_images_model.coupling_coefficients(X_test[:30]), atol=1e-6
    )


def test_the_transformer_has_reconstruction_error_and_coupling_too(digits):
    X_train, X_test, y_train, _ = digits
    transformer = CapsuleTransformer(**tiny(max_epochs=1, input_shape=IMAGES), random_state=0)
    transformer.fit(X_train[:100], y_train[:100])
    assert transformer.reconstruction_error(X_test[:3]).shape == (3,)
    assert transformer.coupling_coefficients(X_test[:3]).shape == (3, 16, 10)


def test_coupling_maps_average_types_then_the_positions_reading_each_pixel():
    rng = np.random.default_rng(0)
    fields = np.zeros((2, 2, 3, 3), dtype=bool)  # a 2×2 grid over 3×3 pixels
    fields[0, 0, :2, :2] = fields[0, 1, :2, 1:] = fields[1, 0, 1:, :2] = fields[1, 1, 1:, 1:] = (
        True
    )
    coupling = rng.dirichlet(np.ones(3), size=2 * 4)  # 2 types × 4 positions, 3 classes
    maps = coupling_maps(coupling, fields)
    per_position = {}  # written out by hand: (h, w) -> mean over the 2 types
    for h in range(2):
        for w in range(2):
            per_position[h, w] = (coupling[h * 2 + w] + coupling[4 + h * 2 + w]) / 2
    np.testing.assert_allclose(maps[:, 0, 0], per_position[0, 0])
    np.testing.assert_allclose(maps[:, 0, 1], (per_position[0, 0] + per_position[0, 1]) / 2)
    np.testing.assert_allclose(maps[:, 1, 1], sum(per_position.values()) / 4)
    np.testing.assert_allclose(maps.sum(axis=0), 1.0)


def test_coupling_display_draws_the_input_and_one_map_per_chosen_class(
    digits_images_model, digits
):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    _, X_test, _, _ = digits
    display = CouplingDisplay.from_estimator(digits_images_model, X_test[0])
    assert display.axes_.shape == (11,) and display.maps.shape == (10, 8, 8)
    np.testing.assert_allclose(display.maps.sum(axis=0), 1.0, atol=1e-5)
    assert display.center == pytest.approx(0.1)
    np.testing.assert_allclose(display.scores, digits_images_model.predict_proba(X_test[:1])[0])
    some = CouplingDisplay.from_estimator(digits_images_model, X_test[0], classes=[3, 7])
    assert some.axes_.shape == (3,) and some.class_labels == [3, 7]
    assert some.center == pytest.approx(0.1)  # an even share of ten classes, not these maps' mean
    np.testing.assert_array_equal(some.maps, display.maps[[3, 7]])


def test_coupling_display_of_a_channels_last_colour_image():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (40, 16, 16, 3), dtype=np.uint8)
    y = np.repeat(["cat", "dog"], 20)
    clf = CapsNetClassifier(**tiny(max_epochs=1), random_state=0).fit(X, y)
    assert clf.data_format_ == "channels_last"
    display = CouplingDisplay.from_estimator(clf, X[0])
    assert display.maps.shape == (2, 16, 16) and display.class_labels == ["cat", "dog"]
    assert not np.isnan(display.maps).any()  # every pixel reaches a primary capsule


@pytest.fixture
def agg():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")


def test_coupling_display_takes_one_sample_in_the_shapes_people_hold_it(agg):
    from PIL import Image

    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (40, 16, 16, 3), dtype=np.uint8)
    y = np.repeat(["cat", "dog"], 20)
    clf = CapsNetClassifier(**tiny(max_epochs=1), random_state=0).fit(X, y)
    expected = CouplingDisplay.from_estimator(clf, X[0]).maps
    for one in (X[:1], Image.fromarray(X[0]), [Image.fromarray(X[0])]):
        np.testing.assert_allclose(CouplingDisplay.from_estimator(clf, one).maps, expected)
    with pytest.raises(ValueError, match="draws one sample; got 2 images"):
        CouplingDisplay.from_estimator(clf, X[:2])


def test_coupling_display_refuses_a_table_and_bad_choices_clearly(
    agg, digits_images_model, digits
):
    _, X_test, _, _ = digits
    with pytest.raises(ValueError, match=r"holds values the model does not know: \[10\]"):
        CouplingDisplay.from_estimator(digits_images_model, X_test[0], classes=[3, 10])
    one = CouplingDisplay.from_estimator(digits_images_model, X_test[0], classes=3)  # one value
    assert one.class_labels == [3]
    with pytest.raises(ValueError, match="needs 11: the input and 10 class map"):
        CouplingDisplay.from_estimator(
            digits_images_model, X_test[0], ax=np.empty(3, dtype=object)
        )
    X, y = make_multilabel_classification(n_samples=40, n_features=6, random_state=0)
    table = CapsNetClassifier(**tiny(max_epochs=1, input_shape=(6, 1, 1))).fit(X, y[:, 0])
    with pytest.raises(ValueError, match="fitted on a table.*coupling_coefficients"):
        CouplingDisplay.from_estimator(table, X[0])


def test_self_attention_maps_are_centred_on_their_own_mean(agg, digits):
    X_train, X_test, y_train, _ = digits
    clf = CapsNetClassifier(
        **tiny(max_epochs=1, input_shape=IMAGES, routing="self_attention"), random_state=0
    ).fit(X_train[:100], y_train[:100])
    display = CouplingDisplay.from_estimator(clf, X_test[0])
    assert display.center == pytest.approx(np.nanmean(display.maps))


def test_inverted_attention_maps_are_centred_on_an_even_share(agg, digits):
    X_train, X_test, y_train, _ = digits
    clf = CapsNetClassifier(
        **tiny(max_epochs=1, input_shape=IMAGES, routing="inverted_attention"), random_state=0
    ).fit(X_train[:100], y_train[:100])
    # two classes' maps: their mean is not 1/10, the even share of the first pass
    display = CouplingDisplay.from_estimator(clf, X_test[0], classes=[3, 7])
    assert display.center == pytest.approx(0.1)
    assert display.center != pytest.approx(np.nanmean(display.maps))


def test_relative_reconstruction_error_of_grey_non_square_rows_centres_each_image():
    from shapes import make_shapes

    X, y = make_shapes(40, size=(6, 10), channels=1, n_classes=2, seed=0)
    X = X.reshape(40, 60)  # flat rows, read as 6×10 images by input_shape
    clf = CapsNetClassifier(**tiny(max_epochs=1, input_shape=(1, 6, 10)), random_state=0)
    clf.fit(X, y)
    x = network_input(clf, X)
    drawn = network_input(clf, clf.reconstruct(X))
    np.testing.assert_allclose(
        clf.reconstruction_error(X, relative=True), _relative_error(x, drawn, None), rtol=1e-4
    )
