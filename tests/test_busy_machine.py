"""CPU training on a busy machine: torch's threads follow the cores others leave free."""

import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

from sklearn_capsnet import CapsNetClassifier
from sklearn_capsnet._testing import tiny
from sklearn_capsnet.training import threads as _threads
from sklearn_capsnet.training.threads import CoreMeter, busy_ticks, threads_for

linux = pytest.mark.skipif(not CoreMeter.available(), reason="needs Linux's /proc/stat")


@pytest.mark.parametrize(
    ("cores", "others", "ceiling", "threads"),
    [
        (2, 0.0, 2, 2),  # alone
        (2, 0.3, 2, 2),  # a little background work
        (2, 0.6, 2, 1),  # a process sharing our cores with two threads gets 2/3 of one
        (2, 1.0, 2, 1),  # one core kept busy
        (2, 3.5, 2, 1),  # never fewer than one
        (8, 2.7, 8, 5),
        (8, 0.0, 4, 4),  # never more than torch had
        (2, 0.0, 1, 1),  # n_jobs workers keep their one thread
    ],
)
def test_threads_are_the_free_cores_rounded_between_one_and_torchs_count(
    cores, others, ceiling, threads
):
    assert threads_for(cores, others, ceiling) == threads


def test_busy_ticks_count_work_of_the_cpu_set_not_idle_or_io_wait():
    stat = (
        "cpu  500 0 500 900 10 0 0 0 0 0\n"
        "cpu0 100 20 30 400 50 4 5 6 7 0\n"  # busy: 100+20+30+4+5+6 (guest is in user)
        "cpu1 1000 0 0 0 0 0 0 0 0 0\n"
        "intr 12345 0 0\nctxt 999\n"
    )
    assert busy_ticks(stat, {0}) == 165
    assert busy_ticks(stat, {1}) == 1000
    assert busy_ticks(stat, {0, 1}) == 1165
    assert busy_ticks(stat, set()) == 0


def test_the_meter_counts_busy_time_less_this_process_own(monkeypatch):
    readings = iter([(0.0, 0.0, 0), (2.0, 1.5, 350)])  # wall, own CPU s, busy ticks
    monkeypatch.setattr(CoreMeter, "_reading", lambda self: next(readings))
    meter = CoreMeter()
    meter.tick_s = 0.01
    assert meter.others() == pytest.approx((3.5 - 1.5) / 2.0)  # 1 core of others


@linux
def test_the_meter_sees_a_busy_process():
    meter = CoreMeter()
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)  # the child starts
        meter.others()
        time.sleep(0.6)
        assert meter.others() >= 0.7
    finally:
        busy.kill()
        busy.wait()


class ThreadsSeen(Callback):
    """torch's thread count at each training batch."""

    def on_train_begin(self, net, **kwargs):
        self.seen = []

    def on_batch_begin(self, net, training=False, **kwargs):
        if training:
            self.seen.append(torch.get_num_threads())


@pytest.fixture
def two_threads(monkeypatch):
    """torch with two threads, readings at every batch; restored after the test."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(_threads, "FIRST_CHECK_S", 0.0)
    monkeypatch.setattr(_threads, "CHECK_EVERY_S", 0.0)
    yield
    torch.set_num_threads(before)


def busy_others(monkeypatch, cores: float):
    monkeypatch.setattr(CoreMeter, "available", staticmethod(lambda: True))
    monkeypatch.setattr(CoreMeter, "__init__", lambda self: setattr(self, "cpus", {0, 1}))
    monkeypatch.setattr(CoreMeter, "others", lambda self: cores)


def _fit(digits, **params):
    X_train, _, y_train, _ = digits
    clf = CapsNetClassifier(
        **tiny(max_epochs=2), input_shape=(1, 8, 8), callbacks=[("seen", ThreadsSeen())], **params
    )
    return clf.fit(X_train[:64], y_train[:64])


def test_training_beside_a_busy_core_runs_one_thread_then_gives_torch_its_two_back(
    two_threads, monkeypatch, digits
):
    busy_others(monkeypatch, 1.0)
    clf = _fit(digits)
    seen = dict(clf.net_.callbacks_)["seen"].seen
    assert seen[0] == 2 and set(seen[1:]) == {1}  # from the first reading on
    assert dict(clf.net_.callbacks_)["free_cores"].threads == [1] * 8
    assert torch.get_num_threads() == 2


def test_training_alone_keeps_every_thread(two_threads, monkeypatch, digits):
    busy_others(monkeypatch, 0.1)
    clf = _fit(digits)
    assert set(dict(clf.net_.callbacks_)["seen"].seen) == {2}


@pytest.mark.parametrize("why", ["OMP_NUM_THREADS", "one thread", "no /proc/stat"])
def test_threads_are_left_alone_where_the_user_or_the_system_decides(
    two_threads, monkeypatch, digits, why
):
    busy_others(monkeypatch, 1.0)
    if why == "OMP_NUM_THREADS":
        monkeypatch.setenv("OMP_NUM_THREADS", "2")
    elif why == "one thread":
        torch.set_num_threads(1)
    else:
        monkeypatch.setattr(CoreMeter, "available", staticmethod(lambda: False))
    expected = 1 if why == "one thread" else 2
    clf = _fit(digits)
    assert set(dict(clf.net_.callbacks_)["seen"].seen) == {expected}
    assert torch.get_num_threads() == expected


class FailAtBatch(Callback):
    def __init__(self, batch):
        self.batch = batch

    def on_train_begin(self, net, **kwargs):
        self.count = 0

    def on_batch_end(self, net, **kwargs):
        self.count += 1
        if self.count == self.batch:
            raise RuntimeError("stopped")


def test_threads_come_back_when_training_fails(two_threads, monkeypatch, digits):
    busy_others(monkeypatch, 1.0)
    X_train, _, y_train, _ = digits
    clf = CapsNetClassifier(
        **tiny(max_epochs=2), input_shape=(1, 8, 8), callbacks=[("fail", FailAtBatch(3))]
    )
    with pytest.raises(RuntimeError, match="stopped"):
        clf.fit(X_train[:64], y_train[:64])
    assert torch.get_num_threads() == 2


def test_the_same_model_on_an_idle_machine_as_before(two_threads, monkeypatch, digits):
    busy_others(monkeypatch, 0.0)
    adapted = _fit(digits, random_state=0)
    monkeypatch.setattr(CoreMeter, "available", staticmethod(lambda: False))
    plain = _fit(digits, random_state=0)
    X = digits[1][:50]
    np.testing.assert_array_equal(adapted.predict_proba(X), plain.predict_proba(X))


def test_after_the_first_reading_a_change_needs_two_readings_that_agree(
    two_threads, monkeypatch, digits
):
    readings = iter([1.0, 0.0, 1.0, 0.0, 0.0] + [0.0] * 20)  # others' cores, one a reading
    busy_others(monkeypatch, 0.0)
    monkeypatch.setattr(CoreMeter, "others", lambda self: next(readings))
    clf = _fit(digits)
    callback = dict(clf.net_.callbacks_)["free_cores"]
    assert callback.threads[:5] == [1, 2, 1, 2, 2]
    seen = dict(clf.net_.callbacks_)["seen"].seen
    assert seen[:6] == [2, 1, 1, 1, 1, 2]  # 1 at once, back to 2 at the second agreeing 2


def test_skorchs_own_training_gives_the_threads_back_too(two_threads, monkeypatch, digits):
    busy_others(monkeypatch, 1.0)
    clf = _fit(digits)
    X_train, _, y_train, _ = digits
    clf.net_.partial_fit(X_train[:32].reshape(-1, 64).astype("float32"), y_train[:32])
    assert dict(clf.net_.callbacks_)["free_cores"].threads  # it lowered them
    assert torch.get_num_threads() == 2


def test_an_unreadable_proc_stat_mid_fit_leaves_the_threads_alone(
    two_threads, monkeypatch, digits
):
    busy_others(monkeypatch, 0.0)

    def unreadable(self):
        raise OSError("gone")

    monkeypatch.setattr(CoreMeter, "others", unreadable)
    clf = _fit(digits)
    assert set(dict(clf.net_.callbacks_)["seen"].seen) == {2}


def test_the_adapting_can_be_switched_off_as_any_skorch_callback(two_threads, monkeypatch, digits):
    busy_others(monkeypatch, 1.0)
    clf = _fit(digits, callbacks__free_cores=None)
    assert set(dict(clf.net_.callbacks_)["seen"].seen) == {2}
