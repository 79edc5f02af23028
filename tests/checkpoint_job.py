"""A checkpointed fit in a process of its own, to be killed on purpose (tests/test_faults.py).

    python checkpoint_job.py FOLDER EPOCHS [STEP EPOCH]

Fits the classifier of :func:`params` on ``X``, ``Y`` with ``checkpoint=FOLDER``. With
``STEP``, the process kills itself with SIGKILL (as ``kill -9`` would) when the write of
epoch ``EPOCH``'s checkpoint reaches that point:

- a step of the write protocol (``sklearn_capsnet.training.checkpoint._reached``): ``folder``,
  ``params.pt``, ``optimizer.pt``, ``history.json``, ``manifest.json``, ``renamed``,
  ``LATEST``;
- ``inside:<file>``: halfway through writing that file, after flushing its first half
  (``inside:LATEST``: the temporary file that replaces ``LATEST``);
- ``wait``: not killed; once that epoch's set is complete it prints ``waiting`` and
  sleeps, holding the folder (for the test of two writers).

It prints ``fitting`` when training starts, ``epoch <k>`` when epoch k is trained (before
its checkpoint is written), and ``done`` at the end.
"""

import os
import signal
import sys
import time

import numpy as np
from skorch.callbacks import Callback

import sklearn_capsnet.io.atomic as files
import sklearn_capsnet.training.checkpoint as checkpoint
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
        name = step.removeprefix("inside:")
        module = files if name == "LATEST" else checkpoint  # LATEST is replaced atomically
        write = module.write_durably

        def half_then_die(path, data, new=True):
            if name == "LATEST":
                hit = os.path.basename(path).startswith(".LATEST.") and data
            else:
                hit = os.path.basename(path) == name and os.path.dirname(path).endswith(
                    f"-{epoch}"
                )
            if hit and arm.epoch == epoch:
                with open(path, "wb") as handle:
                    handle.write(data[: len(data) // 2])
                    handle.flush()
                    os.fsync(handle.fileno())
                die()
            write(path, data, new=new)

        module.write_durably = half_then_die

    def reached(at: str, at_epoch: int) -> None:
        arm.epoch = at_epoch
        if (at, at_epoch) == (step, epoch):
            die()
        if step == "wait" and (at, at_epoch) == ("LATEST", epoch):
            print("waiting", flush=True)
            time.sleep(120)

    arm.epoch = 0
    checkpoint._reached = reached


class SayWhere(Callback):
    """Print ``fitting`` when training starts and ``epoch <k>`` when epoch k is trained
    (before its checkpoint is written)."""

    def on_train_begin(self, net, **kwargs):
        print("fitting", flush=True)

    def on_epoch_end(self, net, **kwargs):
        print(f"epoch {len(net.history)}", flush=True)


def main(argv) -> None:
    folder, epochs = argv[0], int(argv[1])
    if len(argv) > 2:
        arm(argv[2], int(argv[3]))
    clf = CapsNetClassifier(**params(epochs), checkpoint=folder, callbacks=[SayWhere()])
    clf.fit(X, Y)
    print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
