"""Training as scikit-learn and skorch users expect: early stopping, curves, skorch's callbacks."""

import numpy as np
import pytest
from skorch.callbacks import Callback, Checkpoint, EarlyStopping, EpochScoring, LRScheduler
from skorch.dataset import ValidSplit

from sklearn_capsnet import CapsNetClassifier, CapsuleTransformer
from sklearn_capsnet._testing import tiny


@pytest.fixture(scope="module")
def small_digits(digits):
    X_train, X_test, y_train, y_test = digits
    return X_train[:300].reshape(-1, 8, 8), y_train[:300]


class ScoreSequence(EpochScoring):
    """Writes a fixed sequence of validation scores instead of measuring them."""

    def __init__(self, scores):
        super().__init__("accuracy", lower_is_better=False, name="valid_acc")
        self.scores = scores

    def on_epoch_end(self, net, **kwargs):
        net.history.record("valid_acc", self.scores[len(net.history) - 1])


def test_early_stopping_stops_after_n_epochs_without_improvement_and_keeps_the_best(
    small_digits, monkeypatch, capsys
):
    from sklearn_capsnet.training import train as _training

    X, y = small_digits
    # each epoch below best + tol is a miss: epochs 3, 4, 5, 6 (0.705 rises, but by less
    # than tol); the fourth in a row is more than n_iter_no_change=3: stop after epoch 6.
    # The best score, at epoch 4, is the one whose weights are kept.
    scores = [0.5, 0.7, 0.6, 0.705, 0.65, 0.66, 0.9, 0.9]
    weights = RecordWeights.store

    monkeypatch.setattr(_training, "_validation_scoring", lambda: ScoreSequence(scores))
    clf = CapsNetClassifier(
        **tiny(max_epochs=8, early_stopping=True, n_iter_no_change=3, tol=0.01),
        callbacks=[("weights", RecordWeights())],
        verbose=1,
        random_state=0,
    ).fit(X, y)
    out = capsys.readouterr().out
    assert "Stopping early: valid_acc has not risen by tol=0.01" in out
    assert "Keeping the weights of epoch 4 (valid_acc 0.705)" in out
    assert clf.n_iter_ == 6
    assert clf.validation_scores_ == scores[:6]
    assert clf.best_validation_score_ == 0.705
    state = clf.net_.module_.state_dict()
    for name, value in weights[4].items():  # the weights of epoch 4 are back
        np.testing.assert_array_equal(state[name].numpy(), value)


class RecordWeights(Callback):
    store = {}  # on the class: fit deep-copies its callbacks

    def on_epoch_end(self, net, **kwargs):
        state = net.module_.state_dict()
        self.store[len(net.history)] = {k: v.detach().clone().numpy() for k, v in state.items()}


def test_early_stopping_holds_out_a_stratified_validation_fraction(small_digits, monkeypatch):
    from sklearn_capsnet.training import train as _training

    splits = []

    class RecordingSplit(ValidSplit):
        def __call__(self, dataset, y=None, groups=None):
            train, valid = super().__call__(dataset, y, groups)
            splits.append(np.bincount(np.asarray(y)[valid.indices], minlength=10))
            return train, valid

    monkeypatch.setattr(_training, "ValidSplit", RecordingSplit)
    X, y = small_digits
    clf = CapsNetClassifier(
        **tiny(max_epochs=2, early_stopping=True, validation_fraction=0.2), random_state=0
    ).fit(X, y)
    sizes = clf.history_[-1, "batches", :, "valid_batch_size"]
    assert sum(sizes) == 60  # 20 % of 300
    expected = np.bincount(y, minlength=10) * 0.2
    assert np.abs(splits[0] - expected).max() <= 1  # each class held out in proportion
    scores = clf.validation_scores_
    assert len(scores) == 2 and all(0 <= s <= 1 for s in scores)
    assert scores == list(clf.history_[:, "valid_acc"])
    assert clf.loss_curve_ == list(clf.history_[:, "train_loss"])


def test_without_early_stopping_there_are_no_validation_scores(small_digits):
    X, y = small_digits
    clf = CapsNetClassifier(**tiny(max_epochs=1), random_state=0).fit(X, y)
    assert clf.validation_scores_ is None and clf.best_validation_score_ is None
    assert len(clf.loss_curve_) == 1 and isinstance(clf.loss_curve_[0], float)


def test_early_stopping_with_a_train_split_is_refused_before_training(small_digits):
    X, y = small_digits
    clf = CapsNetClassifier(**tiny(early_stopping=True), train_split=ValidSplit(0.2))
    with pytest.raises(ValueError, match="pass train_split=None"):
        clf.fit(X, y)
    assert not hasattr(clf, "net_")


@pytest.mark.parametrize(
    "n_rows, fraction", [(12, 0.1), (12, 0.8), (200, 0.02)], ids=["few", "most", "tiny"]
)
def test_a_hold_out_that_cannot_be_drawn_is_refused_before_training(
    small_digits, n_rows, fraction, capsys
):
    X, y = small_digits
    X, y = X[:n_rows], np.arange(n_rows) % (3 if n_rows == 12 else 10)
    clf = CapsNetClassifier(
        **tiny(early_stopping=True, validation_fraction=fraction), verbose=1, random_state=0
    )
    with pytest.raises(ValueError, match=r"early_stopping=True cannot hold out validation"):
        clf.fit(X, y)
    assert not hasattr(clf, "net_") and "Training" not in capsys.readouterr().out


def test_skorch_stratified_split_and_scoring_callbacks_work(small_digits):
    X, y = small_digits
    clf = CapsNetClassifier(
        **tiny(max_epochs=2, lr_decay=1.0),  # the step schedule below instead
        train_split=ValidSplit(5, stratified=True),
        callbacks=[
            EpochScoring("accuracy", lower_is_better=False, name="valid_accuracy"),
            EpochScoring("f1_macro", lower_is_better=False, on_train=True, name="train_f1"),
            EarlyStopping(monitor="valid_loss", patience=5),
            ("step_lr", LRScheduler(policy="StepLR", step_size=1, gamma=0.5)),
        ],
        random_state=0,
    ).fit(X, y)
    history = clf.history_
    assert sum(history[-1, "batches", :, "valid_batch_size"]) == 60
    accuracy = history[-1, "valid_accuracy"]
    assert 0 <= accuracy <= 1 and 0 <= history[-1, "train_f1"] <= 1
    assert clf.net_.optimizer_.param_groups[0]["lr"] == pytest.approx(0.01 * 0.25)


def test_the_net_predicts_class_indices_and_probabilities_for_unpadded_rows(small_digits):
    X, y = small_digits
    clf = CapsNetClassifier(**tiny(max_epochs=1), random_state=0).fit(X, y)
    rows = X[:5].reshape(5, -1)  # 5 rows: the last batch of 16 is padded
    proba = clf.net_.predict_proba(rows)
    assert proba.shape == (5, 10)
    np.testing.assert_allclose(proba, clf.predict_proba(X[:5]), rtol=1e-5)
    np.testing.assert_array_equal(clf.classes_[clf.net_.predict(rows)], clf.predict(X[:5]))
    np.testing.assert_array_equal(clf.net_.predict_proba(X[:5]), proba)  # images, as fit


def test_the_net_reads_channels_last_images_as_the_estimator_does(colour, colour_model):
    images, clf = colour[0], colour_model
    assert clf.data_format_ == "channels_last"
    np.testing.assert_allclose(
        clf.net_.predict_proba(images[:5]), clf.predict_proba(images[:5]), rtol=1e-5
    )


def test_a_skorch_checkpoint_callback_saves_the_best_epoch(small_digits, tmp_path):
    X, y = small_digits
    checkpoint = Checkpoint(monitor="valid_acc_best", dirname=tmp_path, f_history=None)
    CapsNetClassifier(
        **tiny(max_epochs=2, early_stopping=True), callbacks=[checkpoint], random_state=0
    ).fit(X, y)
    assert (tmp_path / "params.pt").exists()


def test_early_stopping_works_for_the_transformer_and_multilabel_targets():
    rng = np.random.default_rng(0)
    X = rng.random((80, 6))
    Y = (X[:, :3] > 0.5).astype(int)
    caps = CapsuleTransformer(**tiny(max_epochs=2, early_stopping=True), random_state=0)
    caps.fit(X, Y)
    assert len(caps.validation_scores_) == 2


def test_early_stopping_runs_inside_grid_search(small_digits):
    from sklearn.model_selection import GridSearchCV

    X, y = small_digits
    estimator = CapsNetClassifier(**tiny(max_epochs=2, early_stopping=True), random_state=0)
    search = GridSearchCV(estimator, {"n_iter_no_change": [1, 2]}, cv=2).fit(X, y)
    assert search.best_estimator_.validation_scores_ is not None


def test_early_stopping_resumed_from_a_checkpoint_counts_on_from_the_history():
    from types import SimpleNamespace

    from skorch.history import History

    from sklearn_capsnet.training.callbacks import StopOnPlateau

    history = History()
    for score in (0.5, 0.8, 0.7, 0.75):  # best at epoch 2, then two misses
        history.new_epoch()
        history.record("valid_acc", score)
    stop = StopOnPlateau("valid_acc", patience=3, tol=0.01)
    stop.on_train_begin(SimpleNamespace(history=history))
    assert (stop.misses_, stop.best_score_, stop.best_epoch_) == (2, 0.8, 2)
    assert stop.best_weights_ is None  # those of epoch 2 were not saved
