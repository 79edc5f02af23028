"""partial_fit: one epoch per call, on the classes, weights, schedule and checkpoint of the
first call; a failed call leaves the model as it was."""

import checkpoint_job
import numpy as np
import pytest
from skorch.callbacks import EpochScoring
from test_faults import EPOCHS, FullDisk

import sklearn_capsnet.training.checkpoint as checkpoint
from sklearn_capsnet import CapsNetClassifier
from sklearn_capsnet._testing import tiny

# 60 rows of 16 features, 3 classes: the rows of the checkpointed job of test_faults.py
TABLE = checkpoint_job.X, checkpoint_job.Y
# 20 of class 1, 60 of class 0: imbalanced, as in test_weights.py
IMBALANCED = np.random.default_rng(0).random((80, 6)), (np.arange(80) % 4 == 0).astype(int)


def test_partial_fit_trains_one_epoch_more_each_call(two_epochs, digits):
    X_train, X_test, y_train, _ = digits
    clf = CapsNetClassifier(**two_epochs, random_state=0)
    clf.partial_fit(X_train[:64], y_train[:64], classes=np.arange(10))
    assert clf.n_iter_ == 1
    clf.partial_fit(X_train[64:128], y_train[64:128])
    assert clf.n_iter_ == 2
    assert clf.predict(X_test).shape == (len(X_test),)
    with pytest.raises(ValueError, match="not in classes_"):
        clf.partial_fit(X_train[:10], np.full(10, 42))


def test_first_partial_fit_without_classes_takes_those_of_y(two_epochs, digits):
    X_train, _, y_train, _ = digits
    clf = CapsNetClassifier(**two_epochs, random_state=0)
    clf.partial_fit(X_train[:40], y_train[:40] % 3)
    assert list(clf.classes_) == [0, 1, 2]
    with pytest.raises(ValueError, match=r"labels \[3\] that are not in classes_"):
        clf.partial_fit(X_train[:40], y_train[:40] % 4)


def test_learning_rate_schedule_continues_over_partial_fit(two_epochs):
    X, Y = TABLE
    clf = CapsNetClassifier(**two_epochs, lr_decay=0.5, random_state=0)
    for _ in range(3):
        clf.partial_fit(X, Y)
    np.testing.assert_allclose(clf.history_[:, "event_lr"], [0.01, 0.005, 0.0025])


def test_partial_fit_trains_on_all_rows_and_ignores_early_stopping(digits):
    X, y = digits[0][:300].reshape(-1, 8, 8), digits[2][:300]
    clf = CapsNetClassifier(**tiny(early_stopping=True), random_state=0).partial_fit(X, y)
    assert sum(clf.history_[-1, "batches", :, "train_batch_size"]) == 300
    assert clf.validation_scores_ is None
    stopped = CapsNetClassifier(
        **tiny(max_epochs=1, early_stopping=True),
        callbacks=[EpochScoring("f1_macro", on_train=True)],  # a user's callback stays
        random_state=0,
    )
    stopped.fit(X, y).partial_fit(X, y)  # after an early-stopping fit, too
    assert sum(stopped.history_[-1, "batches", :, "train_batch_size"]) == 300
    assert "valid_acc" not in stopped.history_[-1] and "f1_macro" in stopped.history_[-1]


def test_sample_weight_reaches_the_loss_of_fit_and_partial_fit():
    X, Y = IMBALANCED
    zero_for_class_0 = np.where(Y == 1, 1.0, 0.0)
    clf = CapsNetClassifier(**tiny(max_epochs=10), random_state=0)
    clf.fit(X, Y, sample_weight=zero_for_class_0)
    assert clf.predict(X).mean() > 0.9  # class 0 never counted
    more = CapsNetClassifier(**tiny(), random_state=0)
    for _ in range(10):
        more.partial_fit(X, Y, sample_weight=zero_for_class_0)
    assert more.predict(X).mean() > 0.9


def test_partial_fit_takes_a_class_weight_for_a_class_its_batch_lacks():
    X, Y = IMBALANCED
    clf = CapsNetClassifier(**tiny(), class_weight={1: 3.0}, random_state=0)
    clf.partial_fit(X, Y)
    clf.partial_fit(X[Y == 0], Y[Y == 0])  # no example of class 1 in this batch
    assert clf.n_iter_ == 2


def test_partial_fit_refuses_balanced_class_weights_and_leaves_the_model_as_it_was():
    X, Y = IMBALANCED
    clf = CapsNetClassifier(**tiny(), random_state=0).partial_fit(X, Y)
    before = clf.predict_proba(X)
    clf.set_params(class_weight="balanced")
    with pytest.raises(ValueError, match="compute_class_weight"):
        clf.partial_fit(X, Y)
    np.testing.assert_array_equal(clf.predict_proba(X), before)


def test_a_failed_partial_fit_leaves_the_model_as_it_was(tmp_path, monkeypatch):
    X, Y = TABLE
    reference = CapsNetClassifier(**checkpoint_job.params(EPOCHS))
    for _ in range(2):
        reference.partial_fit(X, Y)
    clf = CapsNetClassifier(**checkpoint_job.params(EPOCHS), checkpoint=tmp_path).partial_fit(X, Y)
    before = clf.predict_proba(X)
    monkeypatch.setattr(checkpoint, "write_durably", FullDisk("params.pt", 2))
    with pytest.raises(OSError, match="could not write the checkpoint of epoch 2"):
        clf.partial_fit(X, Y)
    assert clf.n_iter_ == len(clf.history_) == 1
    np.testing.assert_array_equal(clf.predict_proba(X), before)
    monkeypatch.undo()
    clf.partial_fit(X, Y)
    assert clf.n_iter_ == 2
    np.testing.assert_array_equal(clf.predict_proba(X), reference.predict_proba(X))
