"""The estimators inside scikit-learn's machinery: search, pipelines, meta-estimators."""

import io
import pickle
import sys

import cloudpickle
import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import load_digits
from sklearn.ensemble import StackingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score, cross_validate
from sklearn.pipeline import make_pipeline
from skorch.callbacks import Callback

from sklearn_capsnet import CapsNetClassifier, CapsuleTransformer
from sklearn_capsnet._testing import tiny

TINY = tiny(max_epochs=4, random_state=0)


@pytest.fixture(scope="module")
def data():
    X, y = load_digits(return_X_y=True)
    return X[:360], y[:360]


def test_grid_search_over_routing_iterations_runs_in_parallel_like_serially(data):
    X, y = data
    grid = {"routing_iterations": [1, 2, 3]}
    parallel = GridSearchCV(CapsNetClassifier(**TINY), grid, cv=3, n_jobs=2).fit(X, y)
    serial = GridSearchCV(CapsNetClassifier(**TINY), grid, cv=3, n_jobs=1).fit(X, y)
    assert parallel.best_params_["routing_iterations"] in (1, 2, 3)
    np.testing.assert_allclose(
        parallel.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"]
    )
    assert (
        parallel.best_estimator_.routing_iterations == parallel.best_params_["routing_iterations"]
    )
    assert parallel.score(X, y) > 0.5


def test_grid_search_over_routing_algorithms_and_iterations(data):
    X, y = data
    grid = {
        "routing": ["dynamic", "self_attention", "inverted_attention"],
        "routing_iterations": [1, 3],
    }
    search = GridSearchCV(CapsNetClassifier(**{**TINY, "max_epochs": 2}), grid, cv=2).fit(X, y)
    assert len(search.cv_results_["params"]) == 6
    routing = search.best_estimator_.net_.module_.classes.routing
    expected = {
        "dynamic": "DynamicRouting",
        "self_attention": "SelfAttentionRouting",
        "inverted_attention": "InvertedAttentionRouting",
    }
    assert type(routing).__name__ == expected[search.best_params_["routing"]]


def test_grid_search_over_nested_skorch_parameters(data):
    X, y = data
    grid = {"optimizer__weight_decay": [0.0, 1e-4]}
    search = GridSearchCV(CapsNetClassifier(**{**TINY, "max_epochs": 1}), grid, cv=2).fit(X, y)
    decay = search.best_params_["optimizer__weight_decay"]
    assert search.best_estimator_.net_.optimizer_.param_groups[0]["weight_decay"] == decay


def test_capsule_features_feed_a_downstream_classifier_in_a_pipeline(data):
    X, y = data
    pipe = make_pipeline(CapsuleTransformer(**TINY), LogisticRegression(max_iter=1000))
    pipe.fit(X[:270], y[:270])
    assert pipe.score(X[270:], y[270:]) > 0.6
    assert pipe[0].transform(X[:5]).shape == (5, 10 * TINY["capsule_dim"])


def test_transformer_takes_every_classifier_parameter_with_the_same_default():
    import inspect

    classifier = inspect.signature(CapsNetClassifier).parameters
    transformer = dict(inspect.signature(CapsuleTransformer).parameters)
    assert transformer.pop("output").default == "vectors"
    assert list(transformer) == list(classifier)
    assert all(transformer[name].default == classifier[name].default for name in classifier)


def test_transformer_outputs_float32_capsules_or_lengths_with_names(data):
    X, y = data
    caps = CapsuleTransformer(**TINY).fit(X, y)
    features = caps.transform(X[:7])
    assert features.dtype == np.float32 and features.shape == (7, 10 * TINY["capsule_dim"])
    names = caps.get_feature_names_out()
    assert names[0] == "capsule_0_dim0" and names[-1] == f"capsule_9_dim{TINY['capsule_dim'] - 1}"
    lengths = clone(caps).set_params(output="lengths").fit(X, y)
    assert list(lengths.get_feature_names_out()[:2]) == ["capsule_0_length", "capsule_1_length"]
    np.testing.assert_allclose(
        lengths.transform(X[:7]),
        np.linalg.norm(features.reshape(7, 10, TINY["capsule_dim"]), axis=2),
        rtol=1e-5,
    )


def test_transformer_fit_transform_matches_fit_then_transform(data):
    X, y = data
    a = CapsuleTransformer(**TINY).fit_transform(X, y)
    b = CapsuleTransformer(**TINY).fit(X, y).transform(X)
    np.testing.assert_array_equal(a, b)


def test_transformer_set_output_pandas(data):
    X, y = data
    caps = CapsuleTransformer(**{**TINY, "max_epochs": 1}, output="lengths")
    frame = caps.set_output(transform="pandas").fit(X, y).transform(X[:4])
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == [f"capsule_{k}_length" for k in range(10)]


@pytest.mark.parametrize("dump", ["pickle", "joblib"])
def test_pickle_and_joblib_round_trips_keep_predictions_bit_identical(data, dump):
    X, y = data
    clf = CapsNetClassifier(**TINY).fit(X, y)
    buffer = io.BytesIO()
    if dump == "pickle":
        pickle.dump(clf, buffer)
        buffer.seek(0)
        loaded = pickle.load(buffer)
    else:
        joblib.dump(clf, buffer)
        buffer.seek(0)
        loaded = joblib.load(buffer)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    loaded.partial_fit(X, y)  # and it can go on training
    assert loaded.n_iter_ == clf.n_iter_ + 1


def test_clone_gives_an_unfitted_copy_with_the_same_parameters(data):
    X, y = data
    clf = CapsNetClassifier(**TINY, optimizer__weight_decay=1e-4).fit(X, y)
    copy = clone(clf)
    assert not hasattr(copy, "net_")
    assert copy.get_params() == clf.get_params()


def test_cross_val_score_and_cross_validate_return_fitted_estimators(data):
    X, y = data
    scores = cross_val_score(CapsNetClassifier(**TINY), X, y, cv=2)
    assert scores.shape == (2,) and np.all(scores > 0.3)
    result = cross_validate(CapsNetClassifier(**TINY), X, y, cv=2, return_estimator=True)
    assert all(hasattr(est, "net_") and est.n_iter_ == 4 for est in result["estimator"])


def test_calibrated_and_stacked_capsnets(data):
    X, y = data
    calibrated = CalibratedClassifierCV(CapsNetClassifier(**TINY), cv=2).fit(X, y)
    np.testing.assert_allclose(calibrated.predict_proba(X[:5]).sum(axis=1), 1.0)
    stack = StackingClassifier(
        [("capsnet", CapsNetClassifier(**TINY)), ("lr", LogisticRegression(max_iter=500))],
        final_estimator=LogisticRegression(max_iter=500),
        cv=2,
    ).fit(X, y)
    assert stack.score(X, y) > 0.5


class RecordTorchThreads(Callback):
    """Writes the torch thread count into the history at each epoch."""

    def on_epoch_end(self, net, **kwargs):
        net.history.record("torch_threads", torch.get_num_threads())


def test_parallel_jobs_do_not_oversubscribe_the_cores(data):
    X, y = data
    # ship this module's callback to the worker processes by value
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    try:
        clf = CapsNetClassifier(**{**TINY, "max_epochs": 1}, callbacks=[RecordTorchThreads()])
        result = cross_validate(clf, X, y, cv=2, n_jobs=2, return_estimator=True)
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    threads = [est.history_[-1, "torch_threads"] for est in result["estimator"]]
    assert sum(threads) <= max(1, joblib.cpu_count())
