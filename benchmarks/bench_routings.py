"""The three routings side by side, on the same budget; prints JSON lines.

For each of ``--routings`` (default: all of :data:`sklearn_capsnet.nn.ROUTINGS`), with
the default ``CapsNetClassifier`` otherwise (``--params`` adds others to every fit):

- ``step``: seconds per training step of the default network (forward, the routing's
  own loss with reconstruction, backward, Adam) on a batch of ``--batch`` images at
  28×28×1 and 32×32×3 with 10 classes, in float32 and under bf16 autocast: the median
  of ``--steps`` steps after two, and its ratio to dynamic routing's; and the routing
  alone (forward and backward on votes of the same size).
- ``digits``: scikit-learn's digits (the tests' split), ``--digit-epochs`` epochs.
- ``fashion``: Debian's Fashion-MNIST, the first ``--train`` / ``--test`` images at
  28×28, ``--epochs`` epochs.
- ``colour``: the same images upsampled to 32×32 and drawn in colour (each its own
  object and background colours, channels last, uint8), ``--epochs`` epochs.

Each fit records accuracy, fit seconds, seconds per epoch and parameters.

    python benchmarks/bench_routings.py --tasks step
    python benchmarks/bench_routings.py --tasks digits fashion colour --train 2000
"""

import argparse
import json
import statistics
import time

import torch
from bench_large_images import in_colour, upsample
from environment import machine

from sklearn_capsnet import CapsNetClassifier
from sklearn_capsnet._testing import digits_split
from sklearn_capsnet.datasets import load_fashion_mnist
from sklearn_capsnet.nn import ROUTINGS, CapsNet, CapsuleLoss

TASKS = ("step", "digits", "fashion", "colour")


def step_seconds(routing: str, shape, precision: str, batch: int, steps: int) -> float:
    """Median seconds of one training step of the default network on random images."""
    torch.manual_seed(0)
    net = CapsNet(shape, 10, routing=routing)
    loss = CapsuleLoss(objective=ROUTINGS[routing].objective)
    optimizer = torch.optim.Adam(net.parameters(), fused=True)
    x, y = torch.rand(batch, *shape), torch.randint(0, 10, (batch,))
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    times = []
    for _ in range(steps + 2):
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=dtype, enabled=precision == "bf16"):
            capsules = net(x)
            value = loss(capsules, y, net.reconstruct(capsules, y), net.reconstruction_target(x))
        optimizer.zero_grad()
        value.backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return statistics.median(times[2:])


def routing_seconds(routing: str, shape, precision: str, batch: int, steps: int) -> float:
    """Median seconds of the routing alone, forward and backward, on the default
    network's votes for ``shape`` (random, the same size: ``[batch, I, 10, 16]``)."""
    torch.manual_seed(0)
    net = CapsNet(shape, 10, routing=routing)
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    u_hat = torch.randn(batch, net.n_primary, 10, 16, dtype=dtype).requires_grad_()
    times = []
    for _ in range(steps + 2):
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            capsules = net.classes.routing(u_hat)
        capsules.float().square().sum().backward()
        times.append(time.perf_counter() - start)
    return statistics.median(times[2:])


def step_task(args, emit) -> None:
    for shape in [(1, 28, 28), (3, 32, 32)]:
        for precision in ("float32", "bf16"):
            seconds = {
                r: step_seconds(r, shape, precision, args.batch, args.steps) for r in args.routings
            }
            for routing, value in seconds.items():
                emit(
                    {
                        "task": "step",
                        "routing": routing,
                        "shape": list(shape),
                        "precision": precision,
                        "batch": args.batch,
                        "step_s": round(value, 4),
                        "routing_s": round(
                            routing_seconds(routing, shape, precision, args.batch, args.steps), 4
                        ),
                        "vs_dynamic": round(value / seconds["dynamic"], 3)
                        if "dynamic" in seconds
                        else None,
                    }
                )


def fit_and_score(task, routing, X_train, y_train, X_test, y_test, epochs, args, emit):
    clf = CapsNetClassifier(
        **{**args.params, "routing": routing}, max_epochs=epochs, random_state=args.seed
    )
    start = time.perf_counter()
    clf.fit(X_train, y_train)
    fit_s = time.perf_counter() - start
    emit(
        {
            "task": task,
            "routing": routing,
            "train": len(X_train),
            "test": len(X_test),
            "epochs": clf.n_iter_,
            "accuracy": round(clf.score(X_test, y_test), 4),
            "train_loss": [round(v, 4) for v in clf.loss_curve_],
            "fit_s": round(fit_s, 1),
            "epoch_s": round(fit_s / clf.n_iter_, 2),
            "parameters": sum(p.numel() for p in clf.net_.module_.parameters()),
            "network": clf.net_.capsnet().describe(),
            "precision": clf.history_[-1, "precision"],
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument("--routings", nargs="+", default=list(ROUTINGS), choices=list(ROUTINGS))
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--digit-epochs", type=int, default=10)
    parser.add_argument("--train", type=int, default=2000)
    parser.add_argument("--test", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-home", default=None, help="Fashion-MNIST's folder")
    parser.add_argument("--params", default="{}", help="JSON of other CapsNetClassifier params")
    args = parser.parse_args()
    args.params = json.loads(args.params)
    about = {**machine("cpu"), "seed": args.seed, "params": args.params}

    def emit(record):
        print(json.dumps({"benchmark": "routings", **record, **about}), flush=True)

    if "step" in args.tasks:
        step_task(args, emit)
    if "digits" in args.tasks:
        X_train, X_test, y_train, y_test = digits_split(images=True)
        for routing in args.routings:
            data = X_train, y_train, X_test, y_test
            fit_and_score("digits", routing, *data, args.digit_epochs, args, emit)
    if {"fashion", "colour"} & set(args.tasks):
        X_train, y_train = load_fashion_mnist(
            subset="train", data_home=args.data_home, return_X_y=True
        )
        X_test, y_test = load_fashion_mnist(
            subset="test", data_home=args.data_home, return_X_y=True
        )
        X_train, y_train = X_train[: args.train].reshape(-1, 28, 28), y_train[: args.train]
        X_test, y_test = X_test[: args.test].reshape(-1, 28, 28), y_test[: args.test]
        for task in ("fashion", "colour"):
            if task not in args.tasks:
                continue
            if task == "colour":
                X_train = in_colour(upsample(X_train, 32), args.seed)
                X_test = in_colour(upsample(X_test, 32), args.seed + 1)
            for routing in args.routings:
                fit_and_score(
                    task, routing, X_train, y_train, X_test, y_test, args.epochs, args, emit
                )


if __name__ == "__main__":
    main()
