"""A pickle of a fitted model holds each tensor once: the weights and the optimizer's
state, which ``partial_fit`` needs to go on exactly, and little else."""

import io
import pickle

import joblib
import numpy as np
import pytest
import torch
from sklearn.model_selection import cross_validate

from sklearn_capsnet import CapsNetClassifier
from sklearn_capsnet._testing import tiny

rng = np.random.default_rng(0)
# 28×28 images: the tiny network's tensors (0.6 MB) outweigh everything else a pickle holds
X = rng.integers(0, 256, (64, 28, 28), dtype=np.uint8)
Y = np.arange(64) % 4
OVERHEAD = 40_000  # bytes beyond the tensors (26 kB): history, input spec, parameters, ...


def fit_tiny() -> CapsNetClassifier:
    """The tiny network, one epoch on ``X``: the same model at each call (torch's threads
    fixed: adapting to a busy machine they could differ between two fits, and so would
    the sums of the two models)."""
    params = tiny(max_epochs=1, callbacks__free_cores=None)
    return CapsNetClassifier(**params, random_state=0).fit(X, Y)


@pytest.fixture(scope="module")
def fitted():
    """:func:`fit_tiny`'s model (read only)."""
    return fit_tiny()


def tensor_bytes(clf) -> int:
    """The bytes of the weights (parameters and buffers) and of the optimizer's state,
    each tensor counted once."""
    weights = clf.net_.module_.state_dict().values()
    optimizer = [
        value
        for state in clf.net_.optimizer_.state_dict()["state"].values()
        for value in state.values()
        if torch.is_tensor(value)
    ]
    return sum(t.numel() * t.element_size() for t in [*weights, *optimizer])


def size_bound(clf) -> int:
    return int(1.1 * tensor_bytes(clf)) + OVERHEAD


def joblib_dumps(clf) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(clf, buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("dumps", [pickle.dumps, joblib_dumps], ids=["pickle", "joblib"])
def test_a_pickled_model_holds_each_tensor_once(fitted, dumps):
    assert 2 * tensor_bytes(fitted) > size_bound(fitted)  # a second copy would not fit
    size = len(dumps(fitted))
    assert size <= size_bound(fitted), f"{size} bytes for {tensor_bytes(fitted)} of tensors"


def test_partial_fit_after_unpickling_goes_on_exactly_as_the_original(fitted):
    original = fit_tiny()  # not a deep copy: that goes through pickling's own methods
    unpickled = pickle.loads(pickle.dumps(fitted))
    for clf in (original, unpickled):
        clf.partial_fit(X, Y)
    assert unpickled.n_iter_ == original.n_iter_ == 2
    np.testing.assert_array_equal(unpickled.predict_proba(X), original.predict_proba(X))
    step = unpickled.net_.optimizer_.state_dict()["state"][0]["step"]
    assert float(step) == float(original.net_.optimizer_.state_dict()["state"][0]["step"])


def test_an_unpickled_schedule_steps_the_net_s_own_optimizer(fitted):
    unpickled = pickle.loads(pickle.dumps(fitted))
    unpickled.partial_fit(X, Y)  # the schedule is built anew at the start of training
    scheduler = dict(unpickled.net_.callbacks_)["lr_scheduler"]
    assert scheduler.lr_scheduler_.optimizer is unpickled.net_.optimizer_
    assert unpickled.net_.history[-1, "event_lr"] == pytest.approx(0.01 * 0.95)  # epoch 2


def test_cross_validated_estimators_come_back_holding_each_tensor_once():
    model = CapsNetClassifier(**tiny(max_epochs=1), random_state=0)
    result = cross_validate(model, X, Y, cv=2, n_jobs=2, return_estimator=True)
    for clf in result["estimator"]:
        size = len(pickle.dumps(clf))
        assert size <= size_bound(clf), f"{size} bytes for {tensor_bytes(clf)} of tensors"


def test_a_pickle_naming_the_modules_before_the_folders_still_loads(one_epoch, digits):
    # pickles written before the modules moved into folders name sklearn_capsnet._trainer,
    # ._inputs, ... for the classes a fitted model holds: written here the same way
    from sklearn_capsnet._renamed import RENAMED

    X_train, X_test, y_train, _ = digits
    clf = CapsNetClassifier(**one_epoch, random_state=0).fit(X_train[:64], y_train[:64])
    old_name = {f"sklearn_capsnet.{new}": f"sklearn_capsnet.{old}" for old, new in RENAMED.items()}
    classes = {type(clf), type(clf.net_), type(clf.input_spec_)}
    classes |= {type(callback) for _, callback in clf.net_.callbacks_}
    moved = {cls: cls.__module__ for cls in classes if cls.__module__ in old_name}
    assert len(moved) >= 5  # the estimator, the net, the spec and callbacks
    try:
        for cls, module in moved.items():
            cls.__module__ = old_name[module]
        data = pickle.dumps(clf)
    finally:
        for cls, module in moved.items():
            cls.__module__ = module
    assert b"sklearn_capsnet._trainer" in data and b"sklearn_capsnet._inputs" in data
    loaded = pickle.loads(data)
    np.testing.assert_array_equal(loaded.predict_proba(X_test), clf.predict_proba(X_test))
