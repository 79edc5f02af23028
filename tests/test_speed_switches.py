"""Speed switches: bf16 autocast, channels-last, torch.compile, checked for logic on the CPU."""

import sys
from collections import Counter

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from skorch.callbacks import Callback

from sklearn_capsnet import CapsNetClassifier
from sklearn_capsnet._testing import tiny


@pytest.fixture(scope="module")
def trained(digits):
    X_train, _, y_train, _ = digits
    params = tiny(max_epochs=6, mixed_precision="no")
    return CapsNetClassifier(**params, random_state=0).fit(X_train, y_train)


def test_bf16_predictions_of_a_trained_model_agree_with_fp32(trained, digits):
    _, X_test, _, _ = digits
    fp32, fp32_proba = trained.predict(X_test), trained.predict_proba(X_test)
    trained.set_params(mixed_precision="bf16")
    try:
        bf16 = trained.predict(X_test)
        proba = trained.predict_proba(X_test)
    finally:
        trained.set_params(mixed_precision="no")
    assert proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.abs(proba - fp32_proba).max() > 1e-4  # the setting of the fitted model is read
    assert np.mean(bf16 == fp32) >= 0.995  # issue 4: agreement of at least 99.5 %
    np.testing.assert_array_equal(trained.predict_proba(X_test), fp32_proba)  # and reset
    assert trained.net_.precision is None  # prediction leaves the training precision alone


def test_training_under_bf16_autocast_learns(digits):
    X_train, X_test, y_train, y_test = digits
    clf = CapsNetClassifier(**tiny(max_epochs=6, mixed_precision="bf16"), random_state=0)
    clf.fit(X_train, y_train)
    assert clf.net_.precision is torch.bfloat16
    losses = clf.history_[:, "train_loss"]
    assert np.isfinite(losses).all() and losses[-1] < losses[0]
    assert clf.score(X_test, y_test) > 0.85


def test_native_bf16_is_read_from_torchs_cpu_probes_and_absent_probes_mean_no(monkeypatch):
    from sklearn_capsnet.training.precision import cpu_has_native_bf16

    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True, raising=False)
    assert cpu_has_native_bf16()
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    assert not cpu_has_native_bf16()
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)
    assert cpu_has_native_bf16()
    monkeypatch.delattr(torch.cpu, "_is_avx512_bf16_supported")
    monkeypatch.delattr(torch.cpu, "_is_amx_tile_supported")
    assert not cpu_has_native_bf16()  # an older torch without the probes


class NaNGradientOnce(Callback):
    """The first backward pass gives NaN weight gradients, as oneDNN's bf16 conv sometimes does."""

    def on_train_begin(self, net, **kwargs):
        self.precisions = []  # the trainer's precision at each backward pass

        def hook(grad):
            self.precisions.append(net.precision)
            return grad * float("nan") if len(self.precisions) == 1 else grad

        net.module_.primary.conv.weight.register_hook(hook)


def test_a_bf16_cpu_step_with_nan_gradients_is_computed_again_in_float32(one_epoch, digits):
    X_train, _, y_train, _ = digits
    params = dict(one_epoch, mixed_precision="bf16", random_state=0)
    clf = CapsNetClassifier(**params, callbacks=[("nan_once", NaNGradientOnce())])
    clf.fit(X_train[:32], y_train[:32])  # 2 batches of 16
    precisions = dict(clf.net_.callbacks_)["nan_once"].precisions
    assert precisions == [torch.bfloat16, None, torch.bfloat16]
    assert all(torch.isfinite(p).all() for p in clf.net_.module_.parameters())
    assert np.isfinite(clf.history_[:, "batches", :, "train_loss"]).all()


def test_a_step_computed_again_moves_the_running_statistics_once(one_epoch):
    # 88x88 images pass the "conv" front end's halving, whose BatchNorm counts the batches
    X = np.random.default_rng(0).random((32, 88 * 88), dtype=np.float32)
    y = np.arange(32) % 2
    params = dict(one_epoch, mixed_precision="bf16", random_state=0)
    params["input_shape"] = (1, 88, 88)
    clf = CapsNetClassifier(**params, callbacks=[("nan_once", NaNGradientOnce())])
    clf.fit(X, y)  # 2 batches of 16, the first computed twice
    precisions = dict(clf.net_.callbacks_)["nan_once"].precisions
    assert precisions == [torch.bfloat16, None, torch.bfloat16]
    (counted,) = [b for n, b in clf.net_.module_.named_buffers() if "num_batches" in n]
    assert counted.item() == 2


def test_channels_last_memory_format_gives_the_same_model(one_epoch, digits):
    X_train, X_test, y_train, _ = digits
    params = dict(one_epoch, mixed_precision="no", random_state=0)
    plain = CapsNetClassifier(**params).fit(X_train[:300], y_train[:300])
    last = CapsNetClassifier(**params, memory_format="channels_last")
    last.fit(X_train[:300], y_train[:300])
    weight = last.net_.module_.primary.conv.weight
    assert weight.is_contiguous(memory_format=torch.channels_last)
    np.testing.assert_allclose(
        last.predict_proba(X_test), plain.predict_proba(X_test), rtol=1e-3, atol=1e-4
    )


def test_compile_reaches_torch_compile(one_epoch, digits):
    X_train, X_test, y_train, _ = digits
    params = dict(one_epoch, mixed_precision="no", random_state=0)
    plain = CapsNetClassifier(**params).fit(X_train[:200], y_train[:200])
    compiled = CapsNetClassifier(**params, compile=True, compile__backend="eager")
    compiled.fit(X_train[:200], y_train[:200])
    assert isinstance(compiled.net_.module_, torch._dynamo.eval_frame.OptimizedModule)
    np.testing.assert_allclose(
        compiled.predict_proba(X_test), plain.predict_proba(X_test), rtol=1e-4, atol=1e-5
    )


READS = ("item", "tolist", "__float__", "__int__", "__bool__", "cpu")


@pytest.fixture
def host_reads(monkeypatch):
    """Count values that this package or skorch read from tensors back into Python.

    On a GPU each such read waits for the device to finish. (The optimizer's step
    counters live on the host and are not counted.)
    """
    reads = Counter()
    for name in READS:
        real = getattr(torch.Tensor, name)

        def counting(tensor, *args, _real=real, _name=name, **kwargs):
            caller = sys._getframe(1).f_code.co_filename
            if "sklearn_capsnet" in caller or "skorch" in caller:
                reads[_name] += 1
            return _real(tensor, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counting)
    return reads


def test_training_reads_back_only_the_batch_losses_skorch_records(host_reads):
    X, y = load_digits(return_X_y=True)
    clf = CapsNetClassifier(**tiny(max_epochs=3, batch_size=50), random_state=0)
    host_reads.clear()
    clf.fit(X[:500], y[:500])  # 10 batches per epoch
    assert dict(host_reads) == {"item": 30}  # skorch's loop: loss.item() once per batch
    losses = clf.history_[:, "batches", :, "train_loss"]
    assert all(type(loss) is float for epoch in losses for loss in epoch)
    assert [len(epoch) for epoch in losses] == [10, 10, 10]


def test_prediction_copies_results_to_the_host_every_16_batches(host_reads, trained, digits):
    _, X_test, _, _ = digits
    trained.set_params(predict_batch_size=4)
    try:
        host_reads.clear()
        proba = trained.predict_proba(X_test[:160])  # 40 batches: copies after 16, 32, 40
        assert dict(host_reads) == {"cpu": 3}
    finally:
        trained.set_params(predict_batch_size=None)
    np.testing.assert_allclose(proba, trained.predict_proba(X_test[:160]), rtol=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_training_on_a_gpu_loads_its_rows_onto_the_gpu():
    X, y = load_digits(return_X_y=True)
    params = tiny(max_epochs=1, batch_size=50, device="cuda", random_state=0)
    clf = CapsNetClassifier(**params).fit(X[:500], y[:500])
    assert clf.net_.get_iterator(clf.net_.get_dataset(X[:500], y[:500]), training=True).X.is_cuda


def test_adam_is_fused_on_the_cpu_unless_the_user_says_otherwise():
    X, y = load_digits(return_X_y=True)
    X, y = X[:32].reshape(-1, 8, 8), y[:32]
    fused = CapsNetClassifier(**tiny(max_epochs=1), random_state=0).fit(X, y)
    assert fused.net_.optimizer_.defaults["fused"] is True
    plain = CapsNetClassifier(**tiny(max_epochs=1), optimizer__fused=False).fit(X, y)
    assert not plain.net_.optimizer_.defaults["fused"]
    foreach = CapsNetClassifier(**tiny(max_epochs=1), optimizer__foreach=True).fit(X, y)
    assert not foreach.net_.optimizer_.defaults["fused"]
    sgd = CapsNetClassifier(**tiny(max_epochs=1), optimizer=torch.optim.SGD).fit(X, y)
    assert "fused" not in sgd.net_.optimizer_.defaults or not sgd.net_.optimizer_.defaults["fused"]


def test_fused_adam_takes_the_same_steps_as_torchs_default_adam():
    X, y = load_digits(return_X_y=True)
    X, y = X[:64].reshape(-1, 8, 8), y[:64]
    fused = CapsNetClassifier(**tiny(max_epochs=2), random_state=0).fit(X, y)
    plain = CapsNetClassifier(**tiny(max_epochs=2), optimizer__fused=False, random_state=0)
    plain.fit(X, y)
    np.testing.assert_allclose(fused.predict_proba(X), plain.predict_proba(X), atol=1e-4)
