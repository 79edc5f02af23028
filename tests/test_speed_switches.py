"""Speed switches: bf16 autocast, channels-last, torch.compile, checked for logic on the CPU."""

import sys
import warnings
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

    On a GPU each such read waits for the device to finish; in the training loop
    they must come once per read-back window, not once per batch. (The optimizer's
    step counters live on the host and are not counted.)
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


def test_training_reads_losses_back_once_per_epoch_not_once_per_batch(host_reads):
    X, y = load_digits(return_X_y=True)
    clf = CapsNetClassifier(**tiny(max_epochs=3, batch_size=50), random_state=0)
    host_reads.clear()
    clf.fit(X[:500], y[:500])  # 10 batches per epoch
    assert dict(host_reads) == {"tolist": 3}
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


def test_long_epochs_read_losses_back_every_64_batches(host_reads):
    X, y = load_digits(return_X_y=True)
    clf = CapsNetClassifier(**tiny(max_epochs=1, batch_size=4), random_state=0)
    host_reads.clear()
    clf.fit(X[:520], y[:520])  # 130 batches: read back after 64, 128 and at the end
    assert dict(host_reads) == {"tolist": 3}


class CudaSyncWarnings(Callback):
    """Record CUDA's warnings about host syncs from the start to the end of every epoch."""

    def __init__(self):
        self.caught = []

    def on_epoch_begin(self, net, **kwargs):
        self._recorder = warnings.catch_warnings(record=True)
        self._log = self._recorder.__enter__()
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")

    def on_epoch_end(self, net, **kwargs):
        torch.cuda.set_sync_debug_mode("default")
        self._recorder.__exit__(None, None, None)
        self.caught += [w for w in self._log if "synchroniz" in str(w.message).lower()]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_training_on_a_gpu_waits_for_it_once_per_epoch():
    X, y = load_digits(return_X_y=True)
    probe = CudaSyncWarnings()
    params = tiny(max_epochs=3, batch_size=50, device="cuda", random_state=0)
    clf = CapsNetClassifier(**params, callbacks=[probe]).fit(X[:500], y[:500])
    assert clf.net_.get_iterator(clf.net_.get_dataset(X[:500], y[:500]), training=True).X.is_cuda
    assert len(probe.caught) <= 3, [str(w.message) for w in probe.caught]


# skorch 1.4's NeuralNet.run_single_epoch, the loop CapsNetTrainer.run_single_epoch copies
# with one change (losses read back in groups, not per batch); its docstring left out
SKORCH_EPOCH_LOOP = """
if iterator is None:
    return
batch_count = 0
for batch in iterator:
    self.notify('on_batch_begin', batch=batch, training=training)
    step = step_fn(batch, **fit_params)
    self.history.record_batch(prefix + '_loss', step['loss'].item())
    batch_size = get_len(batch[0]) if isinstance(batch, (tuple, list)) else get_len(batch)
    self.history.record_batch(prefix + '_batch_size', batch_size)
    self.notify('on_batch_end', batch=batch, training=training, **step)
    batch_count += 1
self.history.record(prefix + '_batch_count', batch_count)
"""


def test_the_copied_epoch_loop_is_the_installed_skorchs():
    import ast
    import inspect
    import textwrap

    from skorch import NeuralNet

    source = textwrap.dedent(inspect.getsource(NeuralNet.run_single_epoch))
    body = ast.parse(source).body[0].body[1:]  # without the docstring
    installed = ast.unparse(ast.Module(body=body, type_ignores=[]))
    assert installed.strip() == SKORCH_EPOCH_LOOP.strip(), (
        "skorch's run_single_epoch changed: update CapsNetTrainer.run_single_epoch to "
        "match, then this copy and the skorch bound in pyproject.toml"
    )


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
