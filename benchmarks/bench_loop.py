"""The trainer's epoch loop against skorch's own, on the same fit; JSON lines.

``CapsNetTrainer.run_single_epoch`` (``sklearn_capsnet/training/trainer.py``) is skorch
1.4's loop with one change that skorch's hooks cannot express: each batch's loss stays on
the device and the losses are read back together every 64 batches and at the epoch's
end, where skorch's loop reads each batch's loss (``loss.item()``), making the host wait
for the device after every batch. On a CPU there is nothing to wait for; on a GPU the
wait empties the queue of kernels each batch. This script measures what that is worth:
the default ``CapsNetClassifier`` on ``--samples`` random 28×28 images, ``--epochs``
epochs, in alternating rounds with the trainer's loop (``"deferred"``) and with skorch's
(``"skorch"``, put in its place for the round). Each line: the loop, the round, the
seconds of each epoch after the first (from the history's ``dur``); the last line the
median epoch of each loop and their ratio. The copy is kept only where the ratio shows
it pays (docs/benchmarks.md, "The epoch loop").

    python benchmarks/bench_loop.py --device cpu --samples 2048 --epochs 3 --rounds 3
    python benchmarks/bench_loop.py --device cuda --samples 60000 --epochs 3 --rounds 2
"""

import argparse
import contextlib
import json
import statistics

import numpy as np
from environment import machine
from skorch import NeuralNet

from sklearn_capsnet import CapsNetClassifier
from sklearn_capsnet.training.trainer import CapsNetTrainer

LOOPS = ("deferred", "skorch")


OWN = CapsNetTrainer.run_single_epoch


@contextlib.contextmanager
def loop(name: str):
    """The trainer runs its own epoch loop (``"deferred"``) or skorch's in the block."""
    CapsNetTrainer.run_single_epoch = OWN if name == "deferred" else NeuralNet.run_single_epoch
    try:
        yield
    finally:
        CapsNetTrainer.run_single_epoch = OWN


def epoch_seconds(name: str, X, y, args) -> tuple[list[float], str]:
    """The seconds of each epoch after the first, and the loop that ran them."""
    clf = CapsNetClassifier(
        max_epochs=args.epochs,
        batch_size=args.batch_size,
        device=args.device,
        random_state=0,
    )
    with loop(name):
        clf.fit(X, y)
        ran = CapsNetTrainer.run_single_epoch
    return [round(row["dur"], 3) for row in clf.history_[1:]], ran.__qualname__


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--samples", type=int, default=2048)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (args.samples, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, args.samples)
    seconds = {name: [] for name in LOOPS}
    facts = machine(args.device)
    for round_ in range(args.rounds):
        for name in LOOPS if round_ % 2 == 0 else LOOPS[::-1]:
            epochs, ran = epoch_seconds(name, X, y, args)
            seconds[name] += epochs
            print(json.dumps({"benchmark": "loop", "loop": name, "round": round_,
                              "ran": ran, "epoch_s": epochs, "samples": args.samples,
                              "batch_size": args.batch_size, **facts}), flush=True)  # fmt: skip
    median = {name: round(statistics.median(values), 3) for name, values in seconds.items()}
    ratio = round(median["skorch"] / median["deferred"], 3)
    print(json.dumps({"benchmark": "loop_summary", "median_epoch_s": median,
                      "skorch_over_deferred": ratio, "samples": args.samples,
                      "batch_size": args.batch_size, **facts}))  # fmt: skip


if __name__ == "__main__":
    main()
