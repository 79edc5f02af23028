"""``mixed_precision="auto"`` on a CPU: bf16 only where a measurement finds it clearly faster.

The timings are a fake clock here (a test cannot rely on this machine's speed); one
test runs the real steps to see that measuring leaves the network alone.
"""

import datetime
import types

import numpy as np
import pytest
import torch

import sklearn_capsnet
from sklearn_capsnet import CapsNetClassifier
from sklearn_capsnet._testing import tiny
from sklearn_capsnet.nn import CapsNet
from sklearn_capsnet.training import precision as _precision
from sklearn_capsnet.training import precision_store as _store
from sklearn_capsnet.training.precision import autocast_dtype, measured_precision, precision_for
from sklearn_capsnet.training.precision_store import CACHE_ENV

BF16 = torch.bfloat16


class FakeSteps:
    """Steps that take ``float32_s`` or ``bf16_s`` seconds of a fake clock; counts them."""

    def __init__(self, float32_s, bf16_s):
        self.seconds = {None: float32_s, BF16: bf16_s}
        self.now, self.calls = 0.0, []

    def step(self, module, images, dtype):
        self.calls.append((dtype, tuple(images.shape)))
        self.now += self.seconds[dtype]


@pytest.fixture
def fake(monkeypatch, tmp_path):
    """Install fake steps on a CPU with bf16 arithmetic and empty caches (the process's
    and the disk's); set the speeds with ``fake(float32_s, bf16_s)``."""
    monkeypatch.setattr(_precision, "_MEASURED", {})
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(_precision, "cpu_has_native_bf16", lambda: True)

    def install(float32_s, bf16_s, prediction=None):
        """``prediction``: other ``(float32_s, bf16_s)`` for prediction batches."""
        steps = FakeSteps(float32_s, bf16_s)
        predicting = steps if prediction is None else FakeSteps(*prediction)
        clock = lambda: steps.now + (0 if predicting is steps else predicting.now)  # noqa: E731
        monkeypatch.setattr(_precision, "time", types.SimpleNamespace(perf_counter=clock))
        monkeypatch.setattr(_precision, "_training_step", steps.step)
        monkeypatch.setattr(_precision, "_prediction_step", predicting.step)
        return steps

    return install


@pytest.fixture(scope="module")
def network():
    torch.manual_seed(0)
    return CapsNet((1, 16, 16), 3, conv_channels=8, primary_types=2, decoder_hidden=(8,))


@pytest.mark.parametrize(
    ("float32_s", "bf16_s", "expected"),
    [
        (1.0, 0.5, BF16),
        (1.0, 1 / 1.11, BF16),  # float32 11 % slower: bf16
        (1.0, 1 / 1.09, None),  # 9 %: not a clear margin, float32 (at most 10 % slower)
        (1.0, 1.0, None),
        (1.0, 2.0, None),  # the Xeon without AMX
    ],
)
@pytest.mark.parametrize("training", [True, False])
def test_auto_on_a_bf16_cpu_is_bf16_only_where_float32_takes_ten_percent_longer(
    fake, network, float32_s, bf16_s, expected, training
):
    fake(float32_s, bf16_s)
    assert precision_for("auto", "cpu", network, (1, 16, 16), 8, training=training) is expected


def test_one_pair_of_timed_steps_after_a_warm_up_each_and_a_second_pair_when_close(fake, network):
    steps = fake(1.0, 0.5)
    measured = measured_precision(network, (1, 16, 16), 8, training=True)
    assert [dtype for dtype, _ in steps.calls] == [None, BF16, None, BF16]
    assert steps.calls[0][1] == (8, 1, 16, 16)  # the batch size the work runs
    assert (measured.float32_s, measured.bf16_s, measured.batch_size) == (1.0, 0.5, 8)
    steps = fake(1.0, 1 / 1.2)  # within 15 % of the margin: timed again
    measured_precision(network, (1, 16, 16), 4, training=True)
    assert [dtype for dtype, _ in steps.calls] == [None, BF16] * 3


def test_a_measurement_is_kept_per_network_shape_batch_work_and_threads(fake, network):
    steps = fake(1.0, 0.5)
    measure = lambda **kw: precision_for("auto", "cpu", network, **kw)  # noqa: E731
    measure(input_shape=(1, 16, 16), batch_size=8, training=True)
    measure(input_shape=(1, 16, 16), batch_size=8, training=True)
    assert len(steps.calls) == 4  # once
    measure(input_shape=(1, 16, 16), batch_size=8, training=False)
    measure(input_shape=(1, 16, 16), batch_size=16, training=False)
    other = CapsNet((1, 16, 16), 4, conv_channels=8, primary_types=2, decoder_hidden=(8,))
    precision_for("auto", "cpu", other, (1, 16, 16), 16, training=False)
    assert len(steps.calls) == 16
    threads = torch.get_num_threads()
    torch.set_num_threads(threads + 1)
    try:
        measure(input_shape=(1, 16, 16), batch_size=8, training=True)
    finally:
        torch.set_num_threads(threads)
    assert len(steps.calls) == 20


def test_a_later_process_reads_the_measurement_instead_of_measuring(fake, network, monkeypatch):
    steps = fake(1.0, 0.5)
    first = measured_precision(network, (1, 16, 16), 8, training=True)
    assert len(steps.calls) == 4 and first.stored_on is None
    monkeypatch.setattr(_precision, "_MEASURED", {})  # a new process on the same machine
    steps = fake(1.0, 2.0)  # its clock would now say float32: the stored answer holds
    later = measured_precision(network, (1, 16, 16), 8, training=True)
    assert steps.calls == []
    assert (later.float32_s, later.bf16_s, later.dtype) == (1.0, 0.5, BF16)
    assert later.stored_on == datetime.date.today().isoformat()
    measured_precision(network, (1, 16, 16), 8, training=False)  # other work: measured
    assert len(steps.calls) == 4


@pytest.mark.parametrize("main", [True, False])
def test_only_the_main_data_parallel_process_measures_and_all_take_its_answer(
    fake, monkeypatch, main
):
    accelerate_utils = pytest.importorskip("accelerate.utils")
    X, y = _images()
    clf = CapsNetClassifier(**tiny(max_epochs=1, mixed_precision="no"), random_state=0)
    clf.fit(X, y)
    steps = fake(1.0, 0.5)  # where measured: bf16
    clf.set_params(mixed_precision="auto")
    clf.net_.accelerator = types.SimpleNamespace(
        num_processes=2, is_main_process=main, optimizer_step_was_skipped=False
    )
    sent = []

    def broadcast(objects):  # the main process's answer (bf16) reaches every process
        sent.append(objects[0])
        return [objects[0] if main else BF16]

    monkeypatch.setattr(accelerate_utils, "broadcast_object_list", broadcast)
    monkeypatch.setattr(torch.distributed, "broadcast", lambda *args, **kwargs: None)
    clf.partial_fit(X, y)
    assert len(steps.calls) == (4 if main else 0)
    assert sent == [BF16 if main else None]  # the main: its measurement; the others: none
    assert clf.history_[-1, "precision"] == "bf16"


def test_verbose_says_when_the_answer_was_measured_by_an_earlier_process(
    fake, monkeypatch, capsys
):
    X, y = _images()
    fake(1.0, 0.5)
    CapsNetClassifier(**tiny(max_epochs=1, verbose=1), random_state=0).fit(X, y)
    assert "measured here" in capsys.readouterr().out
    monkeypatch.setattr(_precision, "_MEASURED", {})  # a new process
    CapsNetClassifier(**tiny(max_epochs=1, verbose=1), random_state=0).fit(X, y)
    said = capsys.readouterr().out
    assert f"measured on this machine {datetime.date.today().isoformat()})" in said


@pytest.mark.parametrize("change", ["torch", "cpu", "threads"])
def test_a_stored_measurement_is_for_its_cpu_torch_and_threads_only(
    fake, network, monkeypatch, change
):
    fake(1.0, 0.5)
    measured_precision(network, (1, 16, 16), 8, training=True)
    monkeypatch.setattr(_precision, "_MEASURED", {})
    if change == "torch":
        monkeypatch.setattr(torch, "__version__", torch.__version__ + "+other")
    elif change == "cpu":
        monkeypatch.setattr(_store, "_cpu_name", lambda: "another CPU")
    else:
        threads = torch.get_num_threads()
        torch.set_num_threads(threads + 1)
        monkeypatch.setattr(torch, "get_num_threads", lambda: threads + 1)
        torch.set_num_threads(threads)
    steps = fake(1.0, 2.0)
    assert measured_precision(network, (1, 16, 16), 8, training=True).dtype is None
    assert len(steps.calls) == 4


@pytest.mark.parametrize("store", ["empty variable", "folder is a file"])
def test_without_a_usable_store_each_process_measures_and_nothing_is_raised(
    fake, network, monkeypatch, tmp_path, store
):
    if store == "empty variable":
        monkeypatch.setenv(CACHE_ENV, "")
    else:
        (tmp_path / "taken").write_text("a file, not a folder")
        monkeypatch.setenv(CACHE_ENV, str(tmp_path / "taken"))
    for _ in range(2):  # two processes
        monkeypatch.setattr(_precision, "_MEASURED", {})
        steps = fake(1.0, 0.5)
        if store == "empty variable":
            monkeypatch.setenv(CACHE_ENV, "")
        else:
            monkeypatch.setenv(CACHE_ENV, str(tmp_path / "taken"))
        assert measured_precision(network, (1, 16, 16), 8, training=True).dtype is BF16
        assert len(steps.calls) == 4
    assert not (tmp_path / "cache").exists()


DAMAGED = {
    "not JSON": "{not json",
    "half a file": '{"float32_s": 1.0, "bf16',
    "nested past the recursion limit": "[" * 100000 + "]" * 100000,
    "an infinite time": '{"float32_s": Infinity, "bf16_s": 0.5, "date": "2026-12-07"}',
    "a bool for a time": '{"float32_s": 1.0, "bf16_s": true, "date": "2026-12-07"}',
    "no date": '{"float32_s": 1.0, "bf16_s": 0.5, "date": null}',
    "a list": "[1.0, 0.5]",
}


@pytest.mark.parametrize("damage", DAMAGED)
def test_a_damaged_stored_measurement_is_measured_again_and_replaced(
    fake, network, monkeypatch, damage
):
    key = (_precision._signature(network), (1, 16, 16), 8, True, torch.get_num_threads())
    path = _store._file(key)
    path.parent.mkdir(parents=True)
    path.write_text(DAMAGED[damage])
    steps = fake(1.0, 2.0)
    measured = measured_precision(network, (1, 16, 16), 8, training=True)
    assert len(steps.calls) == 4 and measured.dtype is None and measured.stored_on is None
    stored = _store.recall(key)  # replaced by a sound entry that says what it measured
    assert stored["bf16_s"] == 2.0
    assert stored["measured"]["work"] == "training step"
    assert (stored["measured"]["input_shape"], stored["measured"]["batch_size"]) == (
        [1, 16, 16],
        8,
    )


def test_of_two_processes_measuring_at_once_the_second_takes_the_first_ones_answer(fake, network):
    key = (_precision._signature(network), (1, 16, 16), 8, True, torch.get_num_threads())
    steps = fake(1.0, 2.0)  # this process finds float32 faster ...
    real_timed = _precision._timed

    def timed_while_another_finishes_first(*args):
        measurement = real_timed(*args)
        assert _store.remember(key, 1.0, 0.5) is None  # ... the other, bf16, stores first
        return measurement

    _precision._timed = timed_while_another_finishes_first
    try:
        measured = measured_precision(network, (1, 16, 16), 8, training=True)
    finally:
        _precision._timed = real_timed
    assert len(steps.calls) == 4
    assert (measured.float32_s, measured.bf16_s, measured.dtype) == (1.0, 0.5, BF16)
    assert measured.stored_on is not None
    assert _store.recall(key)["bf16_s"] == 0.5  # the first answer is kept


def test_a_stored_measurement_is_for_this_version_of_the_package(fake, network, monkeypatch):
    fake(1.0, 0.5)
    measured_precision(network, (1, 16, 16), 8, training=True)
    monkeypatch.setattr(_precision, "_MEASURED", {})
    monkeypatch.setattr(sklearn_capsnet, "__version__", "0.0.0-other")
    steps = fake(1.0, 2.0)
    assert measured_precision(network, (1, 16, 16), 8, training=True).dtype is None
    assert len(steps.calls) == 4


@pytest.mark.parametrize(
    ("mixed_precision", "device", "shape", "expected"),
    [
        ("auto", "cpu", (1, 8, 8), None),  # the digits: below 16x16
        ("auto", "cpu", (1, 15, 16), None),  # 240 pixels
        ("auto", "cpu", (64, 1, 1), None),  # a table
        ("bf16", "cpu", (1, 28, 28), BF16),
        ("no", "cpu", (1, 28, 28), None),
        ("auto", "mps", (1, 28, 28), None),
    ],
)
def test_nothing_is_measured_where_auto_has_no_choice_or_the_user_chose(
    fake, network, mixed_precision, device, shape, expected
):
    steps = fake(1.0, 0.5)
    assert precision_for(mixed_precision, device, network, shape, 8, training=True) is expected
    assert steps.calls == []


def test_nothing_is_measured_on_a_cpu_without_bf16_arithmetic(fake, network, monkeypatch):
    steps = fake(1.0, 0.5)
    monkeypatch.setattr(_precision, "cpu_has_native_bf16", lambda: False)
    assert precision_for("auto", "cpu", network, (1, 28, 28), 8, training=True) is None
    assert steps.calls == []


def test_auto_is_bf16_on_gpus_that_support_it_without_measuring(monkeypatch):
    assert autocast_dtype("bf16", "cpu") is BF16
    assert autocast_dtype("no", "cuda") is None
    assert autocast_dtype("auto", "cpu") is None  # the CPU's choice is measured
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert autocast_dtype("auto", "cuda:0") is BF16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert autocast_dtype("auto", "cuda:0") is None


@pytest.mark.parametrize("was_training", [True, False])
def test_measuring_leaves_the_network_its_gradients_and_the_random_state_alone(was_training):
    torch.manual_seed(0)
    net = CapsNet((3, 40, 40), 3, conv_channels=8, primary_types=2, decoder_hidden=(8,))
    net.train(was_training)
    before = {name: t.clone() for name, t in net.state_dict().items()}
    rng = torch.get_rng_state()
    for training in (True, False):
        measured = measured_precision(net, (3, 40, 40), 3, training=training)
        assert measured.float32_s > 0 and measured.bf16_s > 0
    assert net.training is was_training
    assert all(p.grad is None for p in net.parameters())
    for name, tensor in net.state_dict().items():  # weights and running statistics
        assert torch.equal(tensor, before[name]), name
    assert torch.equal(torch.get_rng_state(), rng)


def _images(side=16, n=24):
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (n, side, side), dtype=np.uint8), np.arange(n) % 3


@pytest.mark.parametrize(
    ("bf16_s", "chosen", "same_as"), [(0.5, "bf16", "bf16"), (2.0, "float32", "no")]
)
def test_fit_and_prediction_run_in_the_measured_precision_and_record_it(
    fake, bf16_s, chosen, same_as, tmp_path, capsys
):
    X, y = _images()
    fake(1.0, bf16_s)
    auto = CapsNetClassifier(**tiny(max_epochs=2, verbose=1), random_state=0).fit(X, y)
    said = capsys.readouterr().out
    fixed = CapsNetClassifier(**tiny(max_epochs=2, mixed_precision=same_as), random_state=0).fit(
        X, y
    )
    assert auto.history_[:, "precision"] == [chosen, chosen]
    assert auto.training_precision_ == chosen
    assert f"in {chosen}: " in said and "a training step of 16 images" in said
    assert "measured here" in said
    # trained as the fixed precision trains, and predicting as it predicts
    np.testing.assert_array_equal(auto.predict_proba(X), fixed.predict_proba(X))
    path = tmp_path / "model.safetensors"
    auto.save(path)
    assert CapsNetClassifier.load(path).training_precision_ == chosen


def test_training_precision_of_an_unmeasured_fit_is_float32_or_bf16_as_asked(one_epoch, digits):
    X_train, _, y_train, _ = digits
    for asked, said in (("auto", "float32"), ("bf16", "bf16")):  # the 8x8 digits: float32
        clf = CapsNetClassifier(**{**one_epoch, "mixed_precision": asked}, random_state=0)
        assert clf.fit(X_train[:64], y_train[:64]).training_precision_ == said


def test_prediction_measures_its_own_work(fake):
    X, y = _images()
    fake(1.0, 0.5, prediction=(1.0, 1.5))  # bf16 trains faster, predicts slower
    auto = CapsNetClassifier(**tiny(max_epochs=1), random_state=0).fit(X, y)
    bf16 = CapsNetClassifier(**tiny(max_epochs=1, mixed_precision="bf16"), random_state=0)
    bf16.fit(X, y).set_params(mixed_precision="no")
    assert auto.training_precision_ == "bf16"
    np.testing.assert_array_equal(auto.predict_proba(X), bf16.predict_proba(X))


def test_the_measurement_runs_the_batches_the_work_runs_not_more(fake):
    X, y = _images(n=10)  # fewer rows than a batch (16)
    steps = fake(1.0, 0.5)
    clf = CapsNetClassifier(**tiny(max_epochs=1), random_state=0).fit(X, y)
    assert {shape[0] for _, shape in steps.calls} == {10}
    clf.predict(_images(n=40)[0])
    assert steps.calls[-1][1][0] == 16  # prediction batches of 16


class BatchDependentSteps(FakeSteps):
    """bf16 twice as fast on batches of 4 or more, twice as slow on smaller ones."""

    def step(self, module, images, dtype):
        self.calls.append((dtype, tuple(images.shape)))
        faster = len(images) >= 4
        self.now += 1.0 if dtype is None else (0.5 if faster else 2.0)


def test_an_image_gets_the_same_answer_alone_as_among_others(fake, monkeypatch):
    # a measurement at each call's own row count would choose float32 for one image and
    # bf16 for six: the prediction is measured at its full batch, whatever the call's rows
    X, y = _images()
    fake(1.0, 1.0)
    clf = CapsNetClassifier(**tiny(max_epochs=1), random_state=0).fit(X, y)
    steps = BatchDependentSteps(1.0, 1.0)
    monkeypatch.setattr(_precision, "time", types.SimpleNamespace(perf_counter=lambda: steps.now))
    monkeypatch.setattr(_precision, "_prediction_step", steps.step)
    alone = np.concatenate([clf.predict_proba(X[k : k + 1]) for k in range(6)])
    together = clf.predict_proba(X[:6])
    np.testing.assert_allclose(alone, together, rtol=1e-5, atol=1e-6)
    assert {shape[0] for _, shape in steps.calls} == {16}
