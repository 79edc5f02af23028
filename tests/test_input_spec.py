"""The fitted input spec: one description of X that every reader of X asks.

Each decision about X (image or table, one sample or a batch, the way back to X's
layout and units) is made by one function of ``sklearn_capsnet.data.input_spec``; these
tests pin its answers against hand-written cases and independent computation, and
check that prediction and the displays take the same decision.
"""

import numpy as np
import pytest

from sklearn_capsnet import CapsNetClassifier
from sklearn_capsnet._testing import tiny
from sklearn_capsnet.data.input_spec import InputSpec
from sklearn_capsnet.data.value_range import ValueRange


def _spec(shape, data_format="channels_first"):
    n = int(np.prod(shape))
    return InputSpec(tuple(shape), data_format, np.zeros(n, np.float32), np.ones(n, np.float32))


# (model's shape, layout, array shape, one sample?): written out by hand
ONE_OR_BATCH = [
    ((1, 8, 8), "channels_first", (8, 8), True),  # one grey image
    ((1, 8, 8), "channels_first", (1, 8, 8), False),  # a batch of one grey image
    ((1, 8, 8), "channels_first", (5, 8, 8), False),  # five grey images
    ((1, 8, 8), "channels_first", (8, 8, 1), True),  # one image, channels last
    ((1, 8, 8), "channels_first", (8, 8, 3), True),  # one colour image: refused as one
    ((1, 8, 8), "channels_first", (1, 64), False),  # a batch of one row
    ((1, 8, 8), "channels_first", (64,), True),  # one row
    ((3, 32, 32), "channels_last", (32, 32, 3), True),  # one colour image
    ((3, 32, 32), "channels_first", (3, 32, 32), True),  # one colour image, channels first
    ((3, 32, 32), "channels_first", (5, 32, 32), False),  # five grey images: not this model's
    ((3, 32, 32), "channels_last", (2, 32, 32, 3), False),  # a batch
    ((13, 1, 1), "channels_first", (13,), True),  # one table row
    ((13, 1, 1), "channels_first", (4, 13), False),  # four rows
]


@pytest.mark.parametrize("shape, layout, array_shape, one", ONE_OR_BATCH)
def test_one_sample_or_a_batch_is_decided_by_the_documented_cases(shape, layout, array_shape, one):
    assert _spec(shape, layout).is_one_sample(array_shape) is one


@pytest.mark.parametrize("shape", [(8, 8), (8, 8, 1), (1, 8, 8), (1, 64), (3, 8, 8)])
def test_prediction_refuses_exactly_what_the_displays_take_as_one_sample(shape):
    from sklearn_capsnet.plotting.drawing import one_sample as _one_sample

    class Fitted:  # what the displays read of a fitted estimator
        input_spec_ = _spec((1, 8, 8))

    x = np.zeros(shape)
    try:
        wrapped = _one_sample(Fitted(), x).shape == (1, *shape)
    except ValueError:  # a batch of several: the display refuses it
        wrapped = False
    try:
        Fitted.input_spec_.check_images(shape, "CapsNetClassifier")
        refused = False
    except ValueError as error:
        refused = "one" in str(error)
    assert wrapped == refused == Fitted.input_spec_.is_one_sample(shape)


def test_image_or_table_is_one_property_of_the_spec():
    assert _spec((1, 8, 8)).is_image and _spec((3, 1, 2)).is_image
    assert not _spec((64, 1, 1)).is_image


def test_the_way_back_to_x_matches_an_independent_transpose_and_scaling():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(4, 5, 6, 3)).astype(np.float32)  # channels last
    rows = images.reshape(4, -1)
    spec = InputSpec.from_training_data(rows, (5, 6, 3))
    assert (spec.shape, spec.data_format) == ((3, 5, 6), "channels_last")
    low, high = images.min(), images.max()
    network = ((images - low) / (high - low)).transpose(0, 3, 1, 2).reshape(4, -1)  # [0, 1], CHW
    back = spec.to_user_units(network.copy())
    np.testing.assert_allclose(back, rows, rtol=1e-6, atol=1e-4)


def test_tables_are_scaled_column_by_column_and_images_as_a_whole():
    X = np.array([[0.0, 10.0], [2.0, 30.0]])
    table = InputSpec.from_training_data(X, None)
    np.testing.assert_array_equal(table.offset, [0.0, 10.0])
    np.testing.assert_array_equal(table.scale, [2.0, 20.0])
    images = InputSpec.from_training_data(X, (1, 2))
    np.testing.assert_array_equal(images.offset, [0.0, 0.0])
    np.testing.assert_array_equal(images.scale, [30.0, 30.0])


def test_value_range_reads_each_block_once_and_agrees_with_numpy():
    X = np.random.default_rng(1).normal(size=(10_000, 7))
    values = ValueRange.of(X)
    np.testing.assert_array_equal(values.low, X.min(axis=0))
    np.testing.assert_array_equal(values.high, X.max(axis=0))


def test_fit_reads_the_range_of_x_once(monkeypatch, digits):
    import sklearn_capsnet.data.input_spec as inputs
    import sklearn_capsnet.data.validation as validation

    X_train, _, y_train, _ = digits
    calls = {"range": 0, "largest": 0}
    of, largest = inputs.ValueRange.of.__func__, validation._overall

    def counted_of(cls, X):
        calls["range"] += 1
        return of(cls, X)

    def counted_largest(X):
        calls["largest"] += 1
        return largest(X)

    monkeypatch.setattr(inputs.ValueRange, "of", classmethod(counted_of))
    monkeypatch.setattr(validation, "_overall", counted_largest)
    X = X_train[:64].astype(np.float64)  # float64: the float32 range is checked too
    clf = CapsNetClassifier(**tiny(max_epochs=1), random_state=0)
    with pytest.warns(UserWarning, match="8×8"):  # pixel-like rows: the range decides
        clf.fit(X, y_train[:64])
    assert calls == {"range": 1, "largest": 0}
    spec = clf.input_spec_
    clf.predict(X[:5])  # new data: its float32 range and its units are checked
    assert calls == {"range": 2, "largest": 1}
    assert clf.input_spec_ is spec  # the spec is kept


def test_values_beyond_float32_are_refused_at_fit_naming_the_magnitude():
    X = np.ones((20, 3))
    X[3, 1] = 1e300
    with pytest.raises(ValueError, match="beyond the float32 range.*1e\\+300"):
        CapsNetClassifier(**tiny(max_epochs=1)).fit(X, np.arange(20) % 2)


def test_the_spec_cannot_be_changed_after_fit():
    import dataclasses

    spec = InputSpec.from_training_data(np.arange(12.0).reshape(3, 4), None)
    with pytest.raises(ValueError, match="read-only"):
        spec.offset[0] = 5.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.data_format = "channels_last"


def test_a_display_hands_a_wrongly_shaped_sample_to_the_model_s_own_check(digits_model):
    from sklearn_capsnet.plotting import PerturbationDisplay

    with pytest.raises(ValueError, match=r"shape \(10, 10\).*resize X"):
        PerturbationDisplay.from_estimator(digits_model, np.zeros((10, 10)))
