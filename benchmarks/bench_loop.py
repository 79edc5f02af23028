"""skorch's epoch loop against one that reads the batch losses back in groups; JSON lines.

``CapsNetTrainer`` trains with skorch's own epoch loop (``NeuralNet.run_single_epoch``),
which reads each batch's loss back to the host (``loss.item()``): on a GPU the host
waits for the device after every batch, and the queue of kernels empties. Until issue 38
the trainer carried a copy of skorch 1.4's loop that kept the losses on the device and
read them back together every 64 batches; on this 2-core CPU it gained nothing (0.994),
so the copy went. This script keeps that loop (``"deferred"``, here only) to measure what
it would be worth: the default ``CapsNetClassifier`` on ``--samples`` random 28×28
images, ``--epochs`` epochs, in alternating rounds with skorch's loop (``"skorch"``) and
with the deferred one put in its place for the round. Each line: the loop, the round,
the seconds of each epoch after the first (from the history's ``dur``); the last line
the median epoch of each loop and their ratio. Bring such a loop back into the trainer
only if the ratio shows it pays (docs/benchmarks.md, "The epoch loop").

    python benchmarks/bench_loop.py --device cpu --samples 2048 --epochs 3 --rounds 3
    python benchmarks/bench_loop.py --device cuda --samples 60000 --epochs 3 --rounds 2
"""

import argparse
import contextlib
import json
import statistics

import numpy as np
import torch
from environment import machine
from skorch import NeuralNet
from skorch.dataset import get_len

from sklearn_capsnet import CapsNetClassifier
from sklearn_capsnet.training.trainer import CapsNetTrainer

LOOPS = ("deferred", "skorch")
READ_BACK_EVERY = 64  # batches


def deferred_epoch(self, iterator, training, prefix, step_fn, **fit_params):
    """skorch 1.4's ``run_single_epoch`` with the batch losses kept on the device and
    read back together every ``READ_BACK_EVERY`` batches and at the end of the epoch."""
    if iterator is None:
        return
    key, pending, count = prefix + "_loss", [], 0  # history rows whose loss is a tensor
    for batch in iterator:
        self.notify("on_batch_begin", batch=batch, training=training)
        step = step_fn(batch, **fit_params)
        self.history.record_batch(key, step["loss"].detach())
        self.history.record_batch(prefix + "_batch_size", get_len(batch[0]))
        pending.append(self.history[-1]["batches"][-1])
        self.notify("on_batch_end", batch=batch, training=training, **step)
        count += 1
        if len(pending) == READ_BACK_EVERY:
            read_back(pending, key)
    read_back(pending, key)
    self.history.record(prefix + "_batch_count", count)


def read_back(rows, key) -> None:
    """The rows' losses as floats, in one copy from the device; ``rows`` emptied."""
    if rows:
        losses = torch.stack([row[key] for row in rows]).float().tolist()
        for row, loss in zip(rows, losses, strict=True):
            row[key] = loss
        rows.clear()


@contextlib.contextmanager
def loop(name: str):
    """The trainer runs skorch's epoch loop, or in the block the deferred one (and
    skorch's plain ``on_batch_end``, since the trainer's reads each loss to check it)."""
    if name == "skorch":
        yield
        return
    patched = {"run_single_epoch": deferred_epoch, "on_batch_end": NeuralNet.on_batch_end}
    own = {attribute: CapsNetTrainer.__dict__.get(attribute) for attribute in patched}
    for attribute, value in patched.items():
        setattr(CapsNetTrainer, attribute, value)
    try:
        yield
    finally:
        for attribute, value in own.items():
            if value is None:  # skorch's, inherited
                delattr(CapsNetTrainer, attribute)
            else:
                setattr(CapsNetTrainer, attribute, value)


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
