"""A checkpointed fit in a process of its own, to be killed on purpose (tests/test_faults.py).

    python checkpoint_job.py FOLDER EPOCHS [STEP EPOCH]

Fits the classifier of :func:`params` on ``X``, ``Y`` with ``checkpoint=FOLDER``. With
``STEP``, the process kills itself with SIGKILL (as ``kill -9`` would) when the write of
epoch ``EPOCH``'s checkpoint reaches that point:

- a step of the write protocol (``sklearn_capsnet._checkpoint._reached``): ``folder``,
  ``params.pt``, ``optimizer.pt``, ``history.json``, ``manifest.json``, ``renamed``,
  ``LATEST``;
- ``inside:<file>``: halfway through writing that file, after flushing its first half;
- ``wait``: not killed; once that epoch's set is complete it prints ``waiting`` and
  sleeps, holding the folder (for the test of two writers).

It prints ``fitting`` when training starts, and ``done`` at the end.
"""

import os
import signal
import sys
import time

import numpy as np
from skorch.callbacks import Callback

import sklearn_capsnet._checkpoint as checkpoint
from sklearn_capsnet import CapsNetClassifier
from sklearn_capsnet._testing import tiny

rng = np.random.default_rng(0)
X = rng.random((60, 16)).astype(np.float32)
Y = np.arange(60) % 3


def params(epochs: int) -> dict:
    return tiny(max_epochs=epochs, lr=0.01, lr_decay=0.5, random_state=0)


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def arm(step: str, epoch: int) -> None:
    """Make the checkpoint write of ``epoch`` stop the process at ``step``."""
    if step.startswith("inside:"):
        name, write = step.removeprefix("inside:"), checkpoint.write_durably

        def half_then_die(path, data):
            if os.path.basename(path) == name and os.path.dirname(path).endswith(f"-{epoch}"):
                with open(path, "xb") as handle:
                    handle.write(data[: len(data) // 2])
                    handle.flush()
                    os.fsync(handle.fileno())
                die()
            write(path, data)

        checkpoint.write_durably = half_then_die
        return

    def reached(at: str, at_epoch: int) -> None:
        if (at, at_epoch) == (step, epoch):
            die()
        if step == "wait" and (at, at_epoch) == ("LATEST", epoch):
            print("waiting", flush=True)
            time.sleep(120)

    checkpoint._reached = reached


class SayFitting(Callback):
    def on_train_begin(self, net, **kwargs):
        print("fitting", flush=True)


def main(argv) -> None:
    folder, epochs = argv[0], int(argv[1])
    if len(argv) > 2:
        arm(argv[2], int(argv[3]))
    clf = CapsNetClassifier(**params(epochs), checkpoint=folder, callbacks=[SayFitting()])
    clf.fit(X, Y)
    print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
