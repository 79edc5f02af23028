"""Speed switches: bf16 autocast, channels-last, torch.compile, checked for logic on the CPU."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from sklearn_capsnet import CapsNetClassifier

SMALL = dict(conv_channels=32, primary_types=8, decoder_hidden=(64,), max_epochs=6, lr=3e-3)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)


@pytest.fixture(scope="module")
def trained(digits):
    X_train, _, y_train, _ = digits
    return CapsNetClassifier(**SMALL, mixed_precision="no", random_state=0).fit(X_train, y_train)


def test_bf16_predictions_of_a_trained_model_agree_with_fp32(trained, digits):
    _, X_test, _, _ = digits
    fp32 = trained.predict(X_test)
    trained.set_params(mixed_precision="bf16")
    try:
        assert trained._precision() is torch.bfloat16
        bf16 = trained.predict(X_test)
        proba = trained.predict_proba(X_test)
    finally:
        trained.set_params(mixed_precision="no")
    assert proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.mean(bf16 == fp32) >= 0.99
    np.testing.assert_array_equal(trained.predict(X_test), fp32)


def test_training_under_bf16_autocast_learns(digits):
    X_train, X_test, y_train, y_test = digits
    clf = CapsNetClassifier(**SMALL, mixed_precision="bf16", random_state=0).fit(X_train, y_train)
    assert clf.net_.precision is torch.bfloat16
    losses = clf.history_[:, "train_loss"]
    assert np.isfinite(losses).all() and losses[-1] < losses[0]
    assert clf.score(X_test, y_test) > 0.85


def test_auto_precision_is_float32_on_the_cpu_and_bf16_on_capable_gpus(trained, monkeypatch):
    assert trained.get_params()["mixed_precision"] == "no"
    auto = CapsNetClassifier(mixed_precision="auto")
    auto.device_ = "cpu"
    assert auto._precision() is None
    auto.device_ = "cuda"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert auto._precision() is torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert auto._precision() is None


def test_channels_last_gives_the_same_model(digits):
    X_train, X_test, y_train, _ = digits
    params = dict(SMALL, max_epochs=1, mixed_precision="no", random_state=0)
    plain = CapsNetClassifier(**params).fit(X_train[:300], y_train[:300])
    last = CapsNetClassifier(**params, channels_last=True).fit(X_train[:300], y_train[:300])
    weight = last.net_.module_.primary.conv.weight
    assert weight.is_contiguous(memory_format=torch.channels_last)
    np.testing.assert_allclose(
        last.predict_proba(X_test), plain.predict_proba(X_test), rtol=1e-3, atol=1e-4
    )


def test_compile_reaches_torch_compile(digits):
    X_train, X_test, y_train, _ = digits
    params = dict(SMALL, max_epochs=1, mixed_precision="no", random_state=0)
    plain = CapsNetClassifier(**params).fit(X_train[:200], y_train[:200])
    compiled = CapsNetClassifier(**params, compile=True, compile__backend="eager")
    compiled.fit(X_train[:200], y_train[:200])
    assert isinstance(compiled.net_.module_, torch._dynamo.eval_frame.OptimizedModule)
    np.testing.assert_allclose(
        compiled.predict_proba(X_test), plain.predict_proba(X_test), rtol=1e-4, atol=1e-5
    )
