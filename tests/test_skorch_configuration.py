"""skorch is configured through its own parameters, and its output reads well in logs."""

import numpy as np
import pytest

from sklearn_capsnet import CapsNetClassifier
from sklearn_capsnet._testing import tiny


def test_the_loss_is_configured_through_criterion_parameters(digits):
    X_train, _, y_train, _ = digits
    clf = CapsNetClassifier(
        **tiny(max_epochs=1), input_shape=(1, 8, 8), reconstruction_weight=0.002, random_state=0
    )
    clf.fit(X_train[:64], y_train[:64])
    assert clf.net_.get_params()["criterion__reconstruction_weight"] == 0.002
    assert clf.net_.criterion_.reconstruction_weight == 0.002


def test_one_hold_out_split_is_built_for_early_stopping(monkeypatch, digits):
    import skorch.dataset

    X_train, _, y_train, _ = digits
    built = []
    init = skorch.dataset.ValidSplit.__init__

    def counted(self, *args, **kwargs):
        built.append(self)
        init(self, *args, **kwargs)

    monkeypatch.setattr(skorch.dataset.ValidSplit, "__init__", counted)
    clf = CapsNetClassifier(
        **tiny(max_epochs=2), input_shape=(1, 8, 8), early_stopping=True, random_state=0
    )
    clf.fit(X_train[:200], y_train[:200])
    assert len(built) == 1
    assert clf.net_.train_split is built[0]  # the split tried is the split trained with


def test_the_hold_out_is_drawn_from_random_state(digits):
    X_train, _, y_train, _ = digits
    params = dict(tiny(max_epochs=2), input_shape=(1, 8, 8), early_stopping=True)
    scores = [
        CapsNetClassifier(**params, random_state=7)
        .fit(X_train[:300], y_train[:300])
        .validation_scores_
        for _ in range(2)
    ]
    assert scores[0] == scores[1]


def test_a_hold_out_that_cannot_be_drawn_is_refused_before_any_seed_is_drawn(digits):
    X_train, _, y_train, _ = digits
    rng = np.random.RandomState(0)
    state = rng.get_state()[1].copy(), rng.get_state()[2]
    clf = CapsNetClassifier(
        **tiny(max_epochs=1), input_shape=(1, 8, 8), early_stopping=True, random_state=rng
    )
    with pytest.raises(ValueError, match="cannot hold out"):
        clf.fit(X_train[:12], y_train[:12])  # 10 classes in 12 rows: no stratified 10 %
    assert not hasattr(clf, "net_")
    assert (rng.get_state()[1] == state[0]).all() and rng.get_state()[2] == state[1]


def test_partial_fit_after_early_stopping_switches_it_off_through_set_params(digits):
    X_train, _, y_train, _ = digits
    clf = CapsNetClassifier(
        **tiny(max_epochs=2), input_shape=(1, 8, 8), early_stopping=True, random_state=0
    )
    clf.fit(X_train[:200], y_train[:200])
    clf.partial_fit(X_train[:200], y_train[:200])
    names = [name for name, _ in clf.net_.callbacks_]
    assert "early_stopping" not in names and "valid_acc" not in names
    assert clf.net_.train_split is None
    assert clf.net_.history[-1]["train_batch_count"] == 200 // 16 + 1  # every row trained


@pytest.mark.parametrize("terminal", [False, True])
def test_the_epoch_table_has_colour_codes_only_on_a_terminal(
    capsys, monkeypatch, digits, terminal
):
    import sys

    X_train, _, y_train, _ = digits
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: terminal)
    clf = CapsNetClassifier(**tiny(max_epochs=2), input_shape=(1, 8, 8), verbose=1, random_state=0)
    clf.fit(X_train[:64], y_train[:64])
    out = capsys.readouterr().out
    assert "train_loss" in out
    assert ("\x1b[" in out) is terminal


def test_no_color_turns_the_colours_off_on_a_terminal(capsys, monkeypatch, digits):
    import sys

    X_train, _, y_train, _ = digits
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    CapsNetClassifier(**tiny(max_epochs=2), input_shape=(1, 8, 8), verbose=1, random_state=0).fit(
        X_train[:64], np.asarray(y_train[:64])
    )
    assert "\x1b[" not in capsys.readouterr().out
