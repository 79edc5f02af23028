"""Nothing lost: failed calls, interrupts, checkpoints, safe files, numerical trouble."""

import copy
import json
import os
import pickle
import signal
import subprocess
import sys
import warnings
from collections import Counter

import numpy as np
import pytest
import torch
from model_files import edited
from safetensors import safe_open
from skorch.callbacks import Callback

from sklearn_capsnet import CapsNetClassifier, CapsuleTransformer

rng = np.random.default_rng(0)
X = rng.random((60, 16)).astype(np.float32)
Y = np.arange(60) % 3


@pytest.fixture(scope="module")
def fitted_once(two_epochs):
    return CapsNetClassifier(**two_epochs, random_state=0).fit(X, Y)


@pytest.fixture
def fitted(fitted_once):
    """A fitted model of each test's own: several tests change or break it."""
    return copy.deepcopy(fitted_once)


BAD_FIT = {
    "NaN": (np.where(X > 0.5, np.nan, X), Y),
    "one class": (X, np.zeros(60)),
    "continuous target": (X, rng.random(60)),
    "strings": (X.astype(str), Y),
}
BAD_PARTIAL_FIT = {
    "other features": (X[:, :5], Y),
    "NaN": BAD_FIT["NaN"],
    "unknown label": (X, Y + 5),
    "continuous target": BAD_FIT["continuous target"],
}
CASES = [("fit", *case) for case in BAD_FIT.values()] + [
    ("partial_fit", *case) for case in BAD_PARTIAL_FIT.values()
]
IDS = [f"fit-{k}" for k in BAD_FIT] + [f"partial_fit-{k}" for k in BAD_PARTIAL_FIT]


@pytest.mark.parametrize(("method", "bad_X", "bad_y"), CASES, ids=IDS)
def test_a_failed_call_leaves_a_fitted_estimator_exactly_as_it_was(fitted, method, bad_X, bad_y):
    before_proba, before_vars = fitted.predict_proba(X), dict(vars(fitted))
    with pytest.raises(ValueError):
        getattr(fitted, method)(bad_X, bad_y)
    assert vars(fitted) == before_vars
    np.testing.assert_array_equal(fitted.predict_proba(X), before_proba)


class InterruptAt(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.epoch:
            raise KeyboardInterrupt


def test_a_keyboard_interrupt_after_an_epoch_keeps_a_usable_model_with_the_epochs_done(two_epochs):
    clf = CapsNetClassifier(**{**two_epochs, "max_epochs": 5}, callbacks=[InterruptAt(2)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the epoch was finished: nothing to warn about
        clf.fit(X, Y)
    assert clf.n_iter_ == 2
    assert clf.predict(X).shape == (60,)


class CtrlCAt(Callback):
    """Presses Ctrl-C (sends this process SIGINT) as batch ``batch`` of epoch ``epoch`` begins."""

    def __init__(self, epoch, batch):
        self.epoch, self.batch = epoch, batch

    def on_batch_begin(self, net, training=False, **kwargs):
        batches = net.history[-1]["batches"]
        if training and len(net.history) == self.epoch and len(batches) == self.batch:
            os.kill(os.getpid(), signal.SIGINT)


@pytest.fixture
def interactive():
    """Ctrl-C with Python's default meaning, as in a terminal (a background job ignores it)."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


class BatchEnds(Callback):
    """Counts, per epoch, the training batches whose end the callbacks saw."""

    def __init__(self):
        self.seen = Counter()

    def on_batch_end(self, net, training=False, **kwargs):
        self.seen[len(net.history)] += training


def test_ctrl_c_during_fit_ends_the_batch_keeps_the_finished_epochs_and_warns(
    two_epochs, interactive
):
    callbacks = [CtrlCAt(2, 2), BatchEnds()]
    clf = CapsNetClassifier(**{**two_epochs, "max_epochs": 5}, callbacks=callbacks)
    with pytest.warns(UserWarning, match=r"interrupted after 1 finished epoch"):
        clf.fit(X, Y)  # 60 rows: 4 batches of 16 per epoch
    assert clf.n_iter_ == 1 and len(clf.history_) == 1
    ends = dict(clf.net_.callbacks_)["BatchEnds"]  # the fit's copy
    assert ends.seen == {1: 4, 2: 2}  # every callback saw the end of the last batch trained
    steps = {int(s["step"]) for s in clf.net_.optimizer_.state.values()}
    assert steps == {4 + 2}  # the batch under way when Ctrl-C came was finished, no more
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored
    assert clf.predict(X).shape == (60,)


class InterruptAtBatch(Callback):
    def on_batch_end(self, net, **kwargs):
        if len(net.history) == 2 and len(net.history[-1]["batches"]) == 2:
            raise KeyboardInterrupt


def test_a_process_that_ignores_ctrl_c_keeps_ignoring_it_during_fit(two_epochs):
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as under nohup
    try:
        clf = CapsNetClassifier(**{**two_epochs, "max_epochs": 3}, callbacks=[CtrlCAt(2, 2)])
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)  # no "interrupted" warning
            clf.fit(X, Y)
        assert clf.n_iter_ == 3
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)


def test_an_interrupt_inside_an_epoch_drops_its_row_and_leaves_float_losses(two_epochs):
    # Ctrl-C outside the main thread lands where it lands, as a KeyboardInterrupt
    clf = CapsNetClassifier(**{**two_epochs, "max_epochs": 5}, callbacks=[InterruptAtBatch()])
    with pytest.warns(UserWarning, match=r"interrupted after 1 finished epoch"):
        clf.fit(X, Y)
    assert clf.n_iter_ == 1
    losses = clf.history_[:, "batches", :, "train_loss"]
    assert [len(epoch) for epoch in losses] == [4]
    assert all(type(loss) is float for epoch in losses for loss in epoch)


def test_training_resumes_from_the_checkpoint_of_a_killed_run(two_epochs, tmp_path):
    params = dict(two_epochs, lr=0.01, lr_decay=0.5, random_state=0)
    uninterrupted = CapsNetClassifier(**{**params, "max_epochs": 5}).fit(X, Y)
    # the "killed" run: its last checkpoint is after epoch 3
    CapsNetClassifier(**{**params, "max_epochs": 3}, checkpoint=tmp_path).fit(X, Y)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".lock", "LATEST", "epoch-000003"]
    assert (tmp_path / "LATEST").read_text() == "epoch-000003"
    assert sorted(p.name for p in (tmp_path / "epoch-000003").iterdir()) == [
        "history.json",
        "manifest.json",
        "optimizer.pt",
        "params.pt",
    ]
    resumed = CapsNetClassifier(**{**params, "max_epochs": 5}, checkpoint=tmp_path).fit(X, Y)
    assert resumed.n_iter_ == 5
    assert len([e for e in resumed.history_ if "event_cp" in e]) == 5
    np.testing.assert_allclose(resumed.history_[:, "event_lr"], [0.01 * 0.5**k for k in range(5)])
    np.testing.assert_allclose(
        resumed.predict_proba(X), uninterrupted.predict_proba(X), rtol=1e-5, atol=1e-6
    )


def test_a_checkpoint_of_another_fit_is_refused_naming_what_differs(two_epochs, tmp_path):
    first = CapsNetClassifier(**two_epochs, random_state=0, checkpoint=tmp_path).fit(X, Y)
    written = (tmp_path / "epoch-000002" / "params.pt").read_bytes()
    others = {
        "conv_channels was 8, is 4 now": (dict(conv_channels=4), X, Y),
        "lr was 0.01, is 0.02 now": (dict(lr=0.02), X, Y),
        "random_state was 0, is 1 now": (dict(random_state=1), X, Y),
        "the training data differ": ({}, X[:-3], Y[:-3]),  # another fold, say
        "the training data differ ": ({}, X, (Y + 1) % 3),  # other labels
    }
    for message, (changed, X_other, y_other) in others.items():
        other = CapsNetClassifier(
            **{**two_epochs, "random_state": 0, **changed}, checkpoint=tmp_path
        )
        with pytest.raises(ValueError, match=f"written by another fit: .*{message.strip()}"):
            other.fit(X_other, y_other)
        assert not hasattr(other, "net_")
    assert (tmp_path / "epoch-000002" / "params.pt").read_bytes() == written
    # what a resumed fit may change: how long, how loudly, how fast
    resumed = CapsNetClassifier(
        **{**two_epochs, "max_epochs": 3, "verbose": 1, "predict_batch_size": 7},
        random_state=0, checkpoint=tmp_path,
    ).fit(X, Y)  # fmt: skip
    assert resumed.n_iter_ == 3 and first.n_iter_ == 2


def test_resuming_says_so_and_what_was_built(two_epochs, tmp_path, capsys):
    CapsNetClassifier(**two_epochs, random_state=0, checkpoint=tmp_path).fit(X, Y)
    capsys.readouterr()
    params = {**two_epochs, "max_epochs": 3, "verbose": 1}
    CapsNetClassifier(**params, random_state=0, checkpoint=tmp_path).fit(X, Y)
    out = capsys.readouterr().out
    assert f"Resumed from the checkpoint of epoch 2 in {str(tmp_path)!r}." in out
    assert "Network: " in out and "Training epochs 3-3" in out


def test_a_checkpoint_without_a_fit_record_is_checked_by_its_shapes(two_epochs, tmp_path):
    # sets written before fit records: another model is refused when its weights do not fit
    CapsNetClassifier(**two_epochs, checkpoint=tmp_path).fit(X, Y)
    manifest = tmp_path / "epoch-000002" / "manifest.json"
    manifest.write_text(json.dumps({k: v for k, v in json.loads(manifest.read_text()).items()
                                    if k != "fit"}))  # fmt: skip
    other = CapsNetClassifier(**{**two_epochs, "conv_channels": 4}, checkpoint=tmp_path)
    with pytest.raises(ValueError, match="does not fit this model and data .*size mismatch"):
        other.fit(X, Y)


@pytest.mark.parametrize("cls", [CapsNetClassifier, CapsuleTransformer])
def test_safe_file_round_trip_is_exact(two_epochs, tmp_path, cls):
    est = cls(**two_epochs, random_state=0).fit(X, np.array(["a", "b", "c"])[Y])
    path = tmp_path / "model.safetensors"
    est.save(path)
    loaded = cls.load(path)
    method = "predict_proba" if cls is CapsNetClassifier else "transform"
    np.testing.assert_array_equal(getattr(loaded, method)(X), getattr(est, method)(X))
    assert list(loaded.classes_) == ["a", "b", "c"]
    assert loaded.get_params()["conv_channels"] == 8
    with safe_open(str(path), framework="pt") as handle:  # plain JSON + tensors
        description = json.loads(handle.metadata()["sklearn-capsnet"])
    assert description["estimator"] == cls.__name__


def _file_without_history(path):
    """The file at ``path`` as saved before files held the history: a copy beside it."""

    def edit(description, tensors):
        del description["fitted"]["history"]

    return edited(path, path.with_name("old.safetensors"), edit)


def test_a_loaded_model_goes_on_counting_epochs_and_decaying_the_rate(two_epochs, tmp_path):
    params = {**two_epochs, "lr": 0.01, "lr_decay": 0.5, "random_state": 0}
    est = CapsNetClassifier(**params).fit(X, Y)  # two epochs
    est.save(tmp_path / "m.safetensors")
    for path in (tmp_path / "m.safetensors", _file_without_history(tmp_path / "m.safetensors")):
        loaded = CapsNetClassifier.load(path)
        assert loaded.n_iter_ == len(loaded.history_) == 2
        lr = loaded.net_.optimizer_.param_groups[0]
        assert lr["lr"] == pytest.approx(0.01 * 0.5**2)  # the third epoch's, as fit's
        loaded.partial_fit(X, Y)
        assert loaded.n_iter_ == 3 and lr["lr"] == pytest.approx(0.01 * 0.5**3)
        assert [row["epoch"] for row in loaded.history_] == [1, 2, 3]
    loaded = CapsNetClassifier.load(tmp_path / "m.safetensors")  # the file's own history
    assert loaded.loss_curve_ == est.loss_curve_
    assert loaded.history_[:, "dur"] == pytest.approx(est.history_[:, "dur"])
    assert loaded.history_[-1]["precision"] == est.history_[-1]["precision"]


@pytest.mark.parametrize(
    "history, why",
    [({"epoch": 1}, "not a list of epochs"), ([{"epoch": 1}], "has 1 epochs, not the 2")],
)
def test_a_file_with_a_malformed_history_is_refused(fitted, tmp_path, history, why):
    fitted.save(tmp_path / "m.safetensors")

    def edit(description, tensors):
        description["fitted"]["history"] = history

    bad = edited(tmp_path / "m.safetensors", tmp_path / "bad.safetensors", edit)
    with pytest.raises(ValueError, match=f"not a valid sklearn-capsnet model.*{why}"):
        CapsNetClassifier.load(bad)


def test_safe_file_keeps_integer_labels_and_feature_names(two_epochs, tmp_path):
    import pandas as pd

    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(16)])
    est = CapsNetClassifier(**two_epochs, random_state=0).fit(frame, Y + 10)
    est.save(tmp_path / "m.safetensors")
    loaded = CapsNetClassifier.load(tmp_path / "m.safetensors")
    assert loaded.classes_.dtype == est.classes_.dtype
    np.testing.assert_array_equal(loaded.feature_names_in_, est.feature_names_in_)
    np.testing.assert_array_equal(loaded.predict(frame), est.predict(frame))


def test_the_first_save_after_fit_warns_of_nothing(tmp_path):
    # torch warns once per process of a read-only array made a tensor: a process of its
    # own, so that no earlier save in this one has used the warning up
    script = f"""
import warnings
import numpy as np
from sklearn_capsnet import CapsNetClassifier
from sklearn_capsnet._testing import tiny
X = np.random.default_rng(0).random((30, 16)); y = np.arange(30) % 3
clf = CapsNetClassifier(**tiny(max_epochs=1), random_state=0).fit(X, y)
with warnings.catch_warnings():
    warnings.simplefilter("error")
    clf.save({str(tmp_path / "m.safetensors")!r})
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]


def _rewrite(path, edit_tensors=None, edit_description=None):
    """The model file at ``path`` edited in place (its checksum left as it was)."""

    def edit(description, tensors):
        if edit_tensors:
            edit_tensors(tensors)
        if edit_description:
            edit_description(description)

    edited(path, path, edit)


def test_tampered_truncated_or_foreign_files_are_refused(tmp_path, fitted):
    path = tmp_path / "model.safetensors"

    fitted.save(path)
    _rewrite(path, edit_tensors=lambda t: t["module.classes.weight"].mul_(2))
    with pytest.raises(ValueError, match="checksum"):
        CapsNetClassifier.load(path)

    fitted.save(path)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        CapsNetClassifier.load(path)

    fitted.save(path)
    with pytest.raises(ValueError, match="holds a CapsNetClassifier"):
        CapsuleTransformer.load(path)

    path.write_bytes(pickle.dumps(fitted))
    with pytest.raises(ValueError, match="not a valid sklearn-capsnet model file"):
        CapsNetClassifier.load(path)


def test_save_and_load_take_a_path_and_say_so_for_a_file_object(tmp_path, fitted):
    path = tmp_path / "model.safetensors"
    with open(path, "wb") as handle, pytest.raises(TypeError, match="save takes the path"):
        fitted.save(handle)
    fitted.save(str(path))
    with (
        open(path, "rb") as handle,
        pytest.raises(TypeError, match="load takes the path .* not BufferedReader"),
    ):
        CapsNetClassifier.load(handle)
    with pytest.raises(TypeError, match="load takes the path .* not bytes"):
        CapsNetClassifier.load(bytes(path))  # safetensors reads str paths only
    assert CapsNetClassifier.load(path).n_iter_ == fitted.n_iter_


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a CUDA GPU")
def test_loading_onto_a_missing_gpu_names_the_device_not_the_file(tmp_path, fitted):
    path = tmp_path / "model.safetensors"
    fitted.save(path)
    with pytest.raises(ValueError, match="no CUDA GPU") as error:
        CapsNetClassifier.load(path, device="cuda")
    assert "not a valid" not in str(error.value)


def test_a_file_in_an_older_format_version_is_refused_with_the_way_out(tmp_path, fitted):
    # Version 1 stored the class-capsule weights unscaled: read as version 2 they
    # would predict garbage, so loading must stop and say what to do.
    path = tmp_path / "model.safetensors"
    fitted.save(path)

    def older(description):
        description["format_version"] = 1

    _rewrite(path, edit_description=older)
    with pytest.raises(ValueError, match="format version 1 .* reads version 2 only; fit"):
        CapsNetClassifier.load(path)


@pytest.mark.parametrize(
    "bad", [{"mixed_precision": "fp16"}, {"threshold": 1.5}, {"decoder_hidden": (0,)}]
)
def test_save_refuses_a_value_set_params_let_through_and_writes_nothing(tmp_path, fitted, bad):
    path = tmp_path / "model.safetensors"
    fitted.set_params(**bad)
    with pytest.raises(ValueError, match=list(bad)[0]):
        fitted.save(path)
    assert not path.exists()


def test_a_parameter_a_file_does_not_hold_takes_its_default(tmp_path, fitted):
    # a file saved before a parameter existed, whether stored among "params" or apart
    path = tmp_path / "model.safetensors"
    fitted.save(path)

    def from_before(description):
        del description["class_weight"], description["params"]["lr_decay"]

    _rewrite(path, edit_description=from_before)
    loaded = CapsNetClassifier.load(path)
    assert loaded.class_weight is None and loaded.lr_decay == CapsNetClassifier().lr_decay
    X = np.random.default_rng(0).random((5, fitted.n_features_in_))
    np.testing.assert_array_equal(loaded.predict_proba(X), fitted.predict_proba(X))


def test_a_description_that_does_not_match_the_tensors_is_refused(tmp_path, fitted):
    from sklearn_capsnet.io.model_file import _digest

    path = tmp_path / "model.safetensors"
    fitted.save(path)

    def widen(description):
        description["params"]["conv_channels"] = 9

    _rewrite(path, edit_description=widen)
    with pytest.raises(ValueError, match="do not fit together"):
        CapsNetClassifier.load(path)

    fitted.save(path)

    def rename(tensors):
        tensors["module.extra"] = torch.zeros(1)

    def rehash(description):  # a consistent checksum, but an unexpected tensor
        with safe_open(str(path), framework="pt") as handle:
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
        rename(tensors)
        description["sha256"] = _digest(tensors)

    _rewrite(path, edit_tensors=rename, edit_description=rehash)
    with pytest.raises(ValueError, match="do not fit together"):
        CapsNetClassifier.load(path)


def test_a_gpu_trained_pickle_predicts_on_a_cpu_only_machine(fitted, monkeypatch):
    # Make the fitted CPU model look GPU-trained, then unpickle where CUDA is missing:
    # skorch maps the weights to the CPU and the estimator follows.
    expected = fitted.predict_proba(X)
    fitted.device_ = "cuda"
    fitted.net_.device = "cuda"
    payload = pickle.dumps(fitted)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # skorch warns that it maps to the CPU
        loaded = pickle.loads(payload)
    assert loaded.device_ == "cpu"
    assert loaded.net_.data_device() == "cpu"  # the loaders follow
    np.testing.assert_array_equal(loaded.predict_proba(X), expected)


@pytest.mark.parametrize(
    "data",
    [np.zeros((30, 16)), np.ones((30, 16)), np.full((30, 16), 1e6), rng.random((30, 16)) * 1e6],
    ids=["all zero", "constant", "all 1e6", "values up to 1e6"],
)
def test_degenerate_and_extreme_inputs_never_give_nan(two_epochs, data):
    clf = CapsNetClassifier(**two_epochs, random_state=0).fit(data, Y[:30])
    assert np.isfinite(clf.history_[:, "train_loss"]).all()
    for probe in (data, np.full((3, 16), 1e6), -np.full((3, 16), 1e6)):
        assert np.isfinite(clf.predict_proba(probe)).all()


class PoisonWeights(Callback):
    def __init__(self, batch=1):
        self.batch = batch

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if len(net.history) == 2 and len(net.history[-1]["batches"]) == self.batch:
            with torch.no_grad():
                net.module_.classes.weight.fill_(float("nan"))


def test_a_nan_loss_stops_training_with_a_clear_message(fitted):
    before = fitted.predict_proba(X)
    fitted.set_params(callbacks=[PoisonWeights()], max_epochs=3)
    with pytest.raises(FloatingPointError, match=r"loss became nan in epoch 2, batch 1.*lr"):
        fitted.fit(X, Y)
    np.testing.assert_array_equal(fitted.predict_proba(X), before)
    fitted.set_params(callbacks=[PoisonWeights(batch=3)])
    with pytest.raises(FloatingPointError, match=r"loss became nan in epoch 2, batch 3"):
        fitted.fit(X, Y)


class PoisonValidation(Callback):
    """Makes the weights NaN as validation batch ``batch`` of the first epoch begins."""

    def __init__(self, batch):
        self.batch = batch

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        validation = [row for row in net.history[-1]["batches"] if "train_loss" not in row]
        if not training and len(net.history) == 1 and len(validation) == self.batch:
            with torch.no_grad():
                net.module_.classes.weight.fill_(float("nan"))


def test_a_nan_validation_loss_names_its_validation_batch(two_epochs):
    clf = CapsNetClassifier(
        **{**two_epochs, "max_epochs": 3},
        early_stopping=True,
        validation_fraction=0.6,  # 36 rows held out: 3 batches of 16
        callbacks=[PoisonValidation(batch=2)],
    )
    message = r"validation loss became nan in epoch 1, batch 2;"
    with pytest.raises(FloatingPointError, match=message):
        clf.fit(X, Y)


def test_out_of_memory_during_prediction_retries_with_smaller_batches(fitted, monkeypatch):
    expected = fitted.predict_proba(X)
    real_step = fitted.net_.forward_capsules
    sizes = []

    def step_that_needs_small_batches(x, precision=None):
        sizes.append(len(x))
        if len(x) > 4:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return real_step(x, precision)

    monkeypatch.setattr(fitted.net_, "forward_capsules", step_that_needs_small_batches)
    with pytest.warns(ResourceWarning, match="Set predict_batch_size below 16"):
        proba = fitted.predict_proba(X)
    np.testing.assert_allclose(proba, expected, rtol=1e-5)
    assert sizes[:3] == [16, 8, 4]


def test_out_of_memory_with_batches_of_one_is_raised(fitted, monkeypatch):
    def always_out_of_memory(x, precision=None):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")

    monkeypatch.setattr(fitted.net_, "forward_capsules", always_out_of_memory)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        with pytest.raises(torch.cuda.OutOfMemoryError):
            fitted.predict(X)


def test_predict_reads_a_memmap_in_place(tmp_path, fitted):
    path = tmp_path / "X.npy"
    np.save(path, X)
    mapped = np.load(path, mmap_mode="r")
    np.testing.assert_array_equal(fitted.predict_proba(mapped), fitted.predict_proba(X))
