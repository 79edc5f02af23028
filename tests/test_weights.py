"""sample_weight and class_weight: each example's loss counts as often as its weight says."""

import numpy as np
import pytest
import sklearn
from sklearn.model_selection import GridSearchCV, cross_validate

from sklearn_capsnet import CapsNetClassifier, CapsuleTransformer
from sklearn_capsnet._testing import tiny
from sklearn_capsnet.data.input_spec import InputSpec
from sklearn_capsnet.data.loader import ArrayDataset, BatchLoader
from sklearn_capsnet.data.validation import example_weights

rng = np.random.default_rng(0)
X = rng.random((80, 6))
Y = (np.arange(80) % 4 == 0).astype(int)  # 20 of class 1, 60 of class 0: imbalanced


def test_the_loader_hands_each_row_its_own_weight_when_shuffled():
    rows = np.arange(10, dtype=np.float32)[:, None].repeat(2, axis=1)
    weight = np.arange(10, dtype=np.float32) * 10
    reading = InputSpec((2, 1, 1), "channels_first", np.zeros(2), np.ones(2))
    loader = BatchLoader(ArrayDataset(rows, np.arange(10), weight), 4, True, spec=reading)
    seen = []
    for (x, w), y in loader:
        np.testing.assert_array_equal(w.numpy(), x[:, 0].numpy() * 10)
        np.testing.assert_array_equal(y.numpy(), x[:, 0].numpy())
        seen += y.tolist()
    assert sorted(seen) == list(range(10))


def test_balanced_class_weights_are_n_over_classes_times_count_times_sample_weight():
    clf = CapsNetClassifier(class_weight="balanced")
    sample_weight = np.linspace(0.5, 1.5, 80)
    weight = example_weights(clf, X, Y, sample_weight)
    expected = np.where(Y == 1, 80 / (2 * 20), 80 / (2 * 60)) * sample_weight
    np.testing.assert_allclose(weight, expected, rtol=1e-6)
    clf.set_params(class_weight={1: 3.0})
    np.testing.assert_allclose(example_weights(clf, X, Y, None), np.where(Y == 1, 3.0, 1.0))
    assert example_weights(CapsNetClassifier(), X, Y, None) is None  # unweighted: as before


def test_class_weight_moves_predictions_towards_the_heavier_class():
    noise = rng.random((200, 6))  # nothing to learn: the weights alone decide
    labels = np.arange(200) % 2
    heavy = {0: 0.05, 1: 1.0}
    plain = CapsNetClassifier(**tiny(max_epochs=10), random_state=0).fit(noise, labels)
    weighted = CapsNetClassifier(**tiny(max_epochs=10), class_weight=heavy, random_state=0)
    weighted.fit(noise, labels)
    assert weighted.predict(noise).mean() > 0.9 > plain.predict(noise).mean()


BAD_WEIGHTS = {
    "negative": (dict(sample_weight=-np.ones(80)), {}, "Negative values.*sample_weight"),
    "wrong length": (dict(sample_weight=np.ones(79)), {}, "79"),
    "negative class weight": ({}, dict(class_weight={0: -5.0}), r"finite weights >= 0.*-5"),
    "class weight of an unknown label": (
        {},
        dict(class_weight={0: 2.0, 42: 3.0}),
        r"class_weight has labels \[42\] that are not among the classes",
    ),
    "multilabel with class_weight": (
        {},
        dict(class_weight="balanced"),
        "multilabel indicator matrix; pass sample_weight",
    ),
}


@pytest.mark.parametrize("case", BAD_WEIGHTS, ids=list(BAD_WEIGHTS))
def test_bad_weights_are_refused_before_training(case):
    fit_params, params, message = BAD_WEIGHTS[case]
    y = np.stack([Y, 1 - Y], axis=1) if "multilabel" in case else Y
    clf = CapsNetClassifier(**tiny(max_epochs=1), **params)
    with pytest.raises(ValueError, match=message):
        clf.fit(X, y, **fit_params)
    assert not hasattr(clf, "net_")


def test_sample_weight_is_routed_through_cross_validate_and_grid_search():
    weights = np.where(Y == 1, 1.0, 0.0)
    with sklearn.config_context(enable_metadata_routing=True):
        estimator = CapsNetClassifier(**tiny(max_epochs=10), random_state=0)
        estimator.set_fit_request(sample_weight=True).set_score_request(sample_weight=False)
        result = cross_validate(
            estimator, X, Y, cv=2, params={"sample_weight": weights}, return_estimator=True
        )
        assert all(e.predict(X).mean() > 0.9 for e in result["estimator"])
        search = GridSearchCV(estimator, {"routing_iterations": [1]}, cv=2)
        search.fit(X, Y, sample_weight=weights)
        assert search.best_estimator_.predict(X).mean() > 0.9


def test_the_transformer_takes_sample_weight_too():
    caps = CapsuleTransformer(**tiny(max_epochs=1), random_state=0)
    assert caps.fit(X, Y, sample_weight=np.ones(80)).transform(X).shape == (80, 8)


def test_weighted_batches_record_their_row_count_and_the_epoch_loss_weighs_by_it():
    # 80 rows in batches of 30, 30 and 20: the epoch's loss is the batch losses weighted by rows
    clf = CapsNetClassifier(**tiny(max_epochs=1, batch_size=30), random_state=0)
    clf.fit(X, Y, sample_weight=np.linspace(0.5, 1.5, 80))
    batches = clf.history_[-1]["batches"]
    assert [b["train_batch_size"] for b in batches] == [30, 30, 20]
    losses = np.array([b["train_loss"] for b in batches])
    expected = (losses * [30, 30, 20]).sum() / 80  # not the plain mean of three batches
    assert clf.loss_curve_[-1] == pytest.approx(expected, rel=1e-6)
    assert abs(expected - losses.mean()) > 1e-6 * abs(expected)  # the weighting is visible
