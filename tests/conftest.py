"""What the test files share: the tiny network's settings, the data and the models fitted once.

Session fixtures hand every test the same object: tests that change a model (``fit``,
``partial_fit``, ``set_params``, attribute writes) take a ``copy.deepcopy`` of it.
"""

import atexit
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from types import MappingProxyType

import pytest

# scikit-learn's array-API estimator check runs only with this set before SciPy loads;
# set it so that test_common.py runs every check instead of skipping that one.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

# precision measurements of mixed_precision="auto" are kept on disk between processes:
# here in a folder of this run (and of its subprocesses), never in the user's cache
_STORE = tempfile.mkdtemp(prefix="capsnet-test-cache-")
os.environ["SKLEARN_CAPSNET_CACHE_DIR"] = _STORE
atexit.register(shutil.rmtree, _STORE, ignore_errors=True)

sys.path.insert(0, str(Path(__file__).parent))


def pytest_configure(config):
    """Under pytest-xdist, the workers share the cores: torch threads of each, cores / workers.

    Each worker would otherwise start a thread per core, and threads waiting for each
    other on too few cores slow every test down severalfold. The count is then fixed
    (``OMP_NUM_THREADS``, also for the jobs tests start): training would otherwise give
    threads up while other processes keep cores busy (``training/threads.py``), and a
    thread count changes float32 results in their last bits, which tests of identical
    answers would see. ``tests/test_busy_machine.py`` lifts it where it tests that.
    """
    import torch

    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:  # a worker: its share, whatever the controller's environment said
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))
        os.environ["OMP_NUM_THREADS"] = str(torch.get_num_threads())
    os.environ.setdefault("OMP_NUM_THREADS", str(torch.get_num_threads()))


TRAINS = re.compile(r"\.(fit|fit_transform|partial_fit)\(")


def pytest_collection_modifyitems(config, items):
    """Doctests that train a model carry the ``slow`` marker (``-m "not slow"`` leaves
    them out); the others are quick checks of the examples. Slow tests run first, so
    that the workers of ``-n auto`` end together rather than one waiting on the last
    long test."""
    for item in items:
        if isinstance(item, pytest.DoctestItem) and any(
            TRAINS.search(example.source) for example in item.dtest.examples
        ):
            item.add_marker(pytest.mark.slow)
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # stable


def _tiny(**overrides) -> MappingProxyType:
    from sklearn_capsnet._testing import tiny  # here: SciPy loads after SCIPY_ARRAY_API

    return MappingProxyType(tiny(**overrides))  # read-only: one test cannot change another's


@pytest.fixture(scope="session")
def one_epoch():
    """The tiny network (``sklearn_capsnet._testing.TINY``) trained for one epoch."""
    return _tiny(max_epochs=1)


@pytest.fixture(scope="session")
def two_epochs():
    """The tiny network (``sklearn_capsnet._testing.TINY``) trained for two epochs."""
    return _tiny(max_epochs=2)


@pytest.fixture(scope="session")
def digits():
    """scikit-learn's digits as rows of 64 pixels: the split of the demo and benchmarks."""
    from sklearn_capsnet._testing import digits_split

    return digits_split()


@pytest.fixture(scope="session")
def digits_model(digits, two_epochs):
    """The tiny network fitted for two epochs on the digits' training rows (read only)."""
    from sklearn_capsnet import CapsNetClassifier

    X_train, _, y_train, _ = digits
    return CapsNetClassifier(**two_epochs, random_state=0).fit(X_train, y_train)


@pytest.fixture(scope="session")
def colour():
    """Channels-last uint8 colour images (48, 12, 12, 3) of shapes, and 3 classes of labels."""
    from shapes import make_shapes

    X, y = make_shapes(48, size=(12, 12), channels=3, n_classes=3, seed=0)
    return X.reshape(48, 12, 12, 3), y


@pytest.fixture(scope="session")
def colour_model(colour, one_epoch):
    """The tiny network fitted for one epoch on ``colour``, channels last (read only)."""
    from sklearn_capsnet import CapsNetClassifier

    X, y = colour
    return CapsNetClassifier(**one_epoch, random_state=0).fit(X, y)
