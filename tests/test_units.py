"""X at prediction or in partial_fit in other units than at fit (0–1 floats for a 0–255
model, or the reverse) draws one warning per call that names both ranges and the fix; ordinary new
data, brighter, darker or new, draws none."""

import copy
import warnings

import numpy as np
import pytest
from sklearn.preprocessing import StandardScaler

from sklearn_capsnet import CapsNetClassifier, CapsuleTransformer, InputUnitsWarning

# every answer over X, as the estimator's methods call it (X, y: the images and labels)
ANSWERS = {
    "predict": lambda est, X, y: est.predict(X),
    "predict_proba": lambda est, X, y: est.predict_proba(X),
    "decision_function": lambda est, X, y: est.decision_function(X),
    "score": lambda est, X, y: est.score(X, y),
    "capsules": lambda est, X, y: est.capsules(X),
    "reconstruct": lambda est, X, y: est.reconstruct(X),
    "reconstruction_error": lambda est, X, y: est.reconstruction_error(X),
    "coupling_coefficients": lambda est, X, y: est.coupling_coefficients(X),
}


def units_warnings(call) -> list[str]:
    """The messages of the InputUnitsWarnings that ``call()`` gives, each one shown."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    return [str(w.message) for w in caught if issubclass(w.category, InputUnitsWarning)]


def without_warnings(call):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return call()


@pytest.fixture(scope="module")
def transformer(colour, one_epoch):
    """A CapsuleTransformer fitted on the uint8 ``colour`` images (read only)."""
    X, y = colour
    return CapsuleTransformer(**one_epoch, random_state=0).fit(X, y)


@pytest.mark.parametrize("answer", ANSWERS)
def test_each_answer_warns_once_of_0_to_1_images_for_a_0_to_255_model(
    colour_model, colour, answer
):
    X, y = colour
    messages = units_warnings(lambda: ANSWERS[answer](colour_model, X / 255.0, y))
    assert len(messages) == 1, messages  # once per call, not once per batch
    assert "from 0 to 1, but CapsNetClassifier was fitted on values from 0 to 255" in messages[0]
    assert "multiply X by 255" in messages[0]


def test_partial_fit_warns_of_0_to_1_images_for_a_0_to_255_model(colour_model, colour):
    X, y = colour
    model = copy.deepcopy(colour_model)  # the fixture is shared: train a copy
    messages = units_warnings(lambda: model.partial_fit(X / 255.0, y))
    assert len(messages) == 1, messages
    assert "from 0 to 1, but CapsNetClassifier was fitted on values from 0 to 255" in messages[0]
    assert not units_warnings(lambda: model.partial_fit(X, y))  # in the units of fit


def test_transform_warns_of_0_to_1_images_for_a_0_to_255_model(transformer, colour):
    X, _ = colour
    messages = units_warnings(lambda: transformer.transform(X / 255.0))
    assert len(messages) == 1, messages
    assert "CapsuleTransformer was fitted on values from 0 to 255" in messages[0]


def test_0_to_255_images_for_a_model_fitted_on_0_to_1_floats_warn(colour, one_epoch):
    X, y = colour
    clf = CapsNetClassifier(**one_epoch, random_state=0).fit(X / 255.0, y)
    messages = units_warnings(lambda: clf.predict(X))
    assert len(messages) == 1, messages
    assert "from 0 to 255, but CapsNetClassifier was fitted on values from 0 to 1" in messages[0]
    assert "divide X by 255" in messages[0]


@pytest.mark.parametrize("fitted_on_16_bits", [True, False], ids=["16-bit fit", "8-bit fit"])
def test_8_bit_and_16_bit_pixels_mixed_up_are_told_the_factor_257(
    colour, one_epoch, fitted_on_16_bits
):
    X, y = colour
    wide = X.astype(np.uint16) * 257  # the same images in 16 bits: 255 -> 65535
    fit_on, given = (wide, X) if fitted_on_16_bits else (X, wide)
    clf = CapsNetClassifier(**one_epoch, random_state=0).fit(fit_on, y)
    messages = units_warnings(lambda: clf.predict(given))
    assert len(messages) == 1, messages
    how = "multiply X by 257" if fitted_on_16_bits else "divide X by 257"
    assert how in messages[0]
    fixed = given.astype(np.uint16) * 257 if fitted_on_16_bits else given // 257
    without_warnings(lambda: clf.predict(fixed))


@pytest.mark.parametrize(
    "training, values",
    [((0, 16), (0, 1000)), ((0, 16), (0, 65535)), ((0, 4095), (0, 50))],
    ids=["digits, 0-1000", "digits, 16-bit", "12-bit, 0-50"],
)
def test_ranges_not_257_apart_are_not_told_the_factor_257(training, values):
    from sklearn_capsnet.data.input_spec import InputSpec

    spec = InputSpec((1, 8, 8), "channels_first", np.full(64, training[0], np.float32),
                     np.full(64, training[1] - training[0], np.float32))  # fmt: skip
    X = np.full((2, 8, 8), values[0], np.float64)
    X[:, 0, 0] = values[1]
    messages = units_warnings(lambda: spec.check_units(X.reshape(2, -1), "CapsNetClassifier"))
    assert len(messages) == 1 and "rescale X as the training data was" in messages[0], messages


def test_a_boolean_mask_for_a_0_to_255_model_is_called_values_in_0_1(colour_model, colour):
    X, _ = colour
    messages = units_warnings(lambda: colour_model.predict(X > 128))
    assert len(messages) == 1 and "X holds values in [0, 1]" in messages[0], messages


@pytest.mark.parametrize(
    "new",
    [
        lambda X: X * 2.0,  # twice as bright as any training image
        lambda X: X * 0.1,  # a tenth as bright
        lambda X: X[:1] // 8,  # one dark image
        lambda X: np.zeros_like(X[:1]),  # one blank image
        lambda X: np.random.default_rng(1).integers(0, 256, X.shape, dtype=np.uint8),
    ],
    ids=["brighter", "darker", "one dark image", "one blank image", "new images"],
)
def test_new_images_in_the_units_of_fit_do_not_warn(colour_model, colour, new):
    X, _ = colour
    without_warnings(lambda: colour_model.predict(new(X)))
    without_warnings(lambda: colour_model.reconstruction_error(new(X)))


@pytest.fixture(scope="module")
def standardised_table(one_epoch):
    """A model fitted on a standardised table of prices, and new rows of the same prices."""
    rng = np.random.default_rng(0)
    rows = rng.normal(1000, 300, (140, 6))
    scaler = StandardScaler().fit(rows[:100])
    X, new = scaler.transform(rows[:100]), scaler.transform(rows[100:])
    clf = CapsNetClassifier(**one_epoch, random_state=0).fit(X, np.arange(100) % 2)
    return clf, new, scaler


def test_new_rows_of_a_standardised_table_do_not_warn(standardised_table):
    clf, new, _ = standardised_table
    without_warnings(lambda: clf.predict(new))
    without_warnings(lambda: clf.predict(new[:1]))  # one row spans little: no unit error
    without_warnings(lambda: clf.predict(new[:2] * 1e-3))
    without_warnings(lambda: clf.predict(new * 5))  # far out, but not other units


def test_raw_prices_for_a_model_fitted_on_standardised_prices_warn(standardised_table):
    clf, new, scaler = standardised_table
    messages = units_warnings(lambda: clf.predict(scaler.inverse_transform(new)))
    assert len(messages) == 1, messages
    assert "rescale X as the training data was" in messages[0]
