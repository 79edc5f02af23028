"""CPU training on a busy machine: torch threads follow the cores other processes leave.

torch starts one thread per core, and every step waits for its slowest thread: when
another process keeps a core busy, a thread that shares that core holds all the
others up. On a 2-core VM with one core kept busy, a 10-epoch fit of the digits
took 36.7 s with torch's two threads and 13.3 s with one (10.9 s alone, two threads).

While a CPU network trains, :class:`FreeCoreThreads` reads how much CPU time other
processes took on this process's cores (Linux's ``/proc/stat`` less this process's
own time), at most once a second at a batch boundary, and sets torch's thread count
to the cores left free: never fewer than one, never more than torch had when
training began, which is restored at the end (:func:`kept_threads` also when training
fails). After the first reading a change needs two readings that agree. Nothing
changes where no other process is busy, where torch has one thread (scikit-learn's
``n_jobs`` workers, ``OMP_NUM_THREADS=1``), where ``OMP_NUM_THREADS`` is set (the
user chose), off Linux, and on GPUs. A thread count changes float32 results in
their last bits, so a fit beside busy processes can differ that much from one
alone; set ``OMP_NUM_THREADS`` for runs that must match bit for bit, or switch the
adapting off with ``callbacks__free_cores=None``.
"""

import contextlib
import os
import time

import torch
from skorch.callbacks import Callback

__all__ = ["CoreMeter", "FreeCoreThreads", "kept_threads", "threads_for"]

FIRST_CHECK_S = 0.25
"""Seconds of training before the first reading: a fit on a busy machine adapts early."""

CHECK_EVERY_S = 1.0
"""Seconds between two readings after the first."""

_STAT = "/proc/stat"


def threads_for(cores: int, others: float, ceiling: int) -> int:
    """Threads for ``cores`` cores of which other processes keep ``others`` busy.

    The free cores rounded to the nearest whole one, from 1 to ``ceiling``.

    Examples
    --------
    >>> threads_for(2, 0.05, 2), threads_for(2, 1.0, 2), threads_for(8, 2.7, 8)
    (2, 1, 5)
    """
    return max(1, min(ceiling, int(cores - others + 0.5)))


def busy_ticks(stat: str, cpus) -> int:
    """Clock ticks the ``cpus`` spent on work (not idle, not waiting for I/O), read from
    the text of ``/proc/stat``.

    Examples
    --------
    >>> text = "cpu  9 0 9 9 0 0 0 0 0 0\\ncpu0 1 2 3 100 50 4 5 6 0 0\\ncpu1 10 0 0 9 0 0 0 0"
    >>> busy_ticks(text, {0}), busy_ticks(text, {0, 1})
    (21, 31)
    """
    total = 0
    for line in stat.splitlines():
        name, *values = line.split()
        if not name.startswith("cpu") or name == "cpu" or int(name[3:]) not in cpus:
            continue
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in values[:8])
        total += user + nice + system + irq + softirq + steal  # guest time is in user's
    return total


class CoreMeter:
    """Cores of this process's CPU set that other processes kept busy between readings.

    Linux only (:meth:`available`): the CPU set's busy ticks from ``/proc/stat``, less
    this process's own CPU time (every thread of it), over the wall-clock time.
    """

    def __init__(self):
        self.cpus = set(os.sched_getaffinity(0))
        self.tick_s = 1.0 / os.sysconf("SC_CLK_TCK")
        self._last = self._reading()

    @staticmethod
    def available() -> bool:
        """Whether this system can say what other processes use (Linux's /proc/stat)."""
        return hasattr(os, "sched_getaffinity") and os.access(_STAT, os.R_OK)

    def _reading(self) -> tuple[float, float, int]:
        with open(_STAT) as handle:
            ticks = busy_ticks(handle.read(), self.cpus)
        return time.monotonic(), time.process_time(), ticks

    def others(self) -> float:
        """Cores other processes kept busy since the last call (or since built)."""
        (wall0, own0, ticks0), now = self._last, self._reading()
        self._last = now
        wall, own, ticks = now[0] - wall0, now[1] - own0, now[2] - ticks0
        return max(0.0, (ticks * self.tick_s - own) / wall) if wall > 0 else 0.0


class FreeCoreThreads(Callback):
    """Set torch's threads to the cores other processes leave free, while training on a CPU.

    See the module's docstring. ``threads`` records the count at each reading.
    """

    def on_train_begin(self, net, **kwargs):
        self.ceiling = torch.get_num_threads()
        self.meter, self.threads = None, []
        if (
            self.ceiling > 1
            and "OMP_NUM_THREADS" not in os.environ
            and net._device_type() == "cpu"
            and CoreMeter.available()
        ):
            self.meter = CoreMeter()
            self.next_check = time.monotonic() + FIRST_CHECK_S

    def on_batch_begin(self, net, **kwargs):
        if self.meter is None or time.monotonic() < self.next_check:
            return
        try:
            others = self.meter.others()
        except (OSError, ValueError):  # /proc/stat unreadable now: leave the threads
            self.meter = None
            return
        threads = threads_for(len(self.meter.cpus), others, self.ceiling)
        # a change needs two readings that agree (the first reading excepted): a load
        # near a threshold does not switch the count, and the float bits, every second
        agreed = not self.threads or self.threads[-1] == threads
        if agreed and threads != torch.get_num_threads():
            torch.set_num_threads(threads)
        self.threads.append(threads)
        self.next_check = time.monotonic() + CHECK_EVERY_S

    def on_train_end(self, net, **kwargs):
        if self.meter is not None:  # also for skorch's own fit and partial_fit
            torch.set_num_threads(self.ceiling)
        self.meter = None  # nothing of this run travels in a pickle


@contextlib.contextmanager
def kept_threads():
    """torch's thread count as it was before the block, also when the block raises."""
    before = torch.get_num_threads()
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)
