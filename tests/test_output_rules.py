"""Each output rule has one home: the estimator and skorch's ``net_`` answer alike.

skorch's scoring callbacks read ``net_.predict`` and ``net_.predict_proba``; they
must give what ``predict`` and ``predict_proba`` give, after any ``set_params``.
"""

import copy

import numpy as np
import pytest
import torch

from sklearn_capsnet import CapsNetClassifier
from sklearn_capsnet._testing import tiny
from sklearn_capsnet.nn.outputs import labels, probabilities


@pytest.fixture(scope="module")
def multilabel(digits):
    X_train, X_test, y_train, _ = digits
    Y = np.stack([y_train % 2, y_train > 4, y_train == 0], axis=1).astype(int)
    clf = CapsNetClassifier(**tiny(max_epochs=1), input_shape=(1, 8, 8), random_state=0)
    return clf.fit(X_train, Y), X_test


@pytest.mark.parametrize("threshold", [0.05, 0.3, 0.5, 0.9])
def test_net_predict_follows_the_threshold_set_after_fit(multilabel, threshold):
    fitted, X = multilabel
    clf = copy.deepcopy(fitted).set_params(threshold=threshold)  # the shared model unchanged
    from_net = clf.net_.predict(X)
    np.testing.assert_array_equal(from_net, clf.predict(X))
    lengths = np.linalg.norm(clf.capsules(X), axis=2)
    np.testing.assert_array_equal(from_net, (lengths > threshold).astype(int))


def test_net_and_estimator_agree_on_the_winning_class_and_probabilities(digits):
    X_train, X_test, y_train, _ = digits
    clf = CapsNetClassifier(**tiny(max_epochs=1), input_shape=(1, 8, 8), random_state=0)
    clf.fit(X_train[:300], y_train[:300])
    np.testing.assert_array_equal(clf.classes_[clf.net_.predict(X_test)], clf.predict(X_test))
    np.testing.assert_array_equal(clf.net_.predict_proba(X_test), clf.predict_proba(X_test))


def test_the_longest_capsule_wins_and_probabilities_follow_the_odds():
    capsules = torch.tensor([[[0.3, 0.0], [0.0, 0.8], [0.6, 0.0]]], dtype=torch.float64)
    assert labels(capsules, multilabel=False, threshold=0.5).tolist() == [1]
    assert labels(capsules, multilabel=True, threshold=0.5).tolist() == [[0, 1, 1]]
    odds = [0.3 / 0.7, 0.8 / 0.2, 0.6 / 0.4]  # presence odds of each capsule, by hand
    expected = [o / sum(odds) for o in odds]
    np.testing.assert_allclose(probabilities(capsules, False)[0].tolist(), expected, rtol=1e-12)


def test_net_predict_follows_the_precision_set_after_fit(digits):
    X_train, X_test, y_train, _ = digits
    clf = CapsNetClassifier(
        **tiny(max_epochs=1), input_shape=(1, 8, 8), mixed_precision="bf16", random_state=0
    ).fit(X_train[:300], y_train[:300])
    clf.set_params(mixed_precision="no")  # float32 from now on: bf16 rounds differently
    np.testing.assert_array_equal(clf.net_.predict_proba(X_test), clf.predict_proba(X_test))
