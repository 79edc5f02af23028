"""What the image size costs the default network; prints JSON lines.

- ``parameters``: the default network's parameter count (10 classes) for 28×28×1 and
  square colour images of each of ``--param-sizes``, per front end.
- ``fit_throughput``: images per second of the last of ``--epochs`` epochs of ``fit``
  (the first builds and warms up), the default ``CapsNetClassifier``, on
  ``--fit-images`` random uint8 channels-last colour images of each of ``--fit-sizes``.
  ``--repeats`` rounds, the sizes alternating within each round; each size's median
  and its ratio to the first size's median, all in the one run.
- ``fit_memory``: peak resident memory (VmHWM) of a fresh process fitting one epoch of
  ``--memory-images`` colour images of ``--memory-size`` at batch 32, and its resident
  memory after the imports, before ``fit``.

Prediction over a memmap of large images: ``bench_memory.py --shape 224 224 3``.

    python benchmarks/bench_image_sizes.py
"""

import argparse
import json
import statistics
import subprocess
import sys

import numpy as np
from bench_memory import _status_kb
from environment import machine

from sklearn_capsnet import CapsNetClassifier
from sklearn_capsnet.nn import FRONT_ENDS, CapsNet


def count_parameters(shape, front_end) -> dict:
    net = CapsNet(shape, 10, front_end=front_end)
    return {
        "shape": list(shape),
        "front_end": front_end,
        "parameters": sum(p.numel() for p in net.parameters()),
        "network": net.describe(),
    }


def images(n: int, side: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(side)
    X = rng.integers(0, 256, (n, side, side, 3), dtype=np.uint8)  # channels last
    return X, np.arange(n) % 10


def fit_throughput(side: int, n: int, epochs: int, params: dict) -> float:
    """Images per second of the last epoch of a default fit (with ``params``)."""
    X, y = images(n, side)
    clf = CapsNetClassifier(**params, max_epochs=epochs, random_state=0).fit(X, y)
    return n / clf.history_[-1, "dur"]


def fit_memory(side: int, n: int, params: dict) -> dict:
    """Run in a fresh process: resident memory before and the peak during one fit."""
    X, y = images(n, side)
    before = _status_kb("VmRSS") / 1024
    clf = CapsNetClassifier(**params, max_epochs=1, batch_size=32, random_state=0).fit(X, y)
    return {
        "side": side,
        "images": n,
        "batch_size": 32,
        "rss_before_fit_mb": round(before, 1),
        "peak_rss_mb": round(_status_kb("VmHWM") / 1024, 1),
        "network": clf.net_.capsnet().describe(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--param-sizes", type=int, nargs="+", default=[32, 64, 96, 128, 160, 192, 224, 256]
    )
    parser.add_argument("--front-ends", nargs="+", default=list(FRONT_ENDS))
    parser.add_argument("--fit-sizes", type=int, nargs="+", default=[32, 64, 128, 224])
    parser.add_argument("--fit-images", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--memory-size", type=int, default=224)
    parser.add_argument("--memory-images", type=int, default=128)
    parser.add_argument("--skip", nargs="*", default=[], choices=["parameters", "fit", "memory"])
    parser.add_argument(
        "--params", default="{}", help="JSON of other CapsNetClassifier parameters (fit)"
    )
    parser.add_argument("--child-memory", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    params = json.loads(args.params)
    if args.child_memory:
        print(json.dumps(fit_memory(args.memory_size, args.memory_images, params)))
        return
    facts = machine("cpu")

    def emit(kind, record):
        print(json.dumps({"benchmark": kind, **record, **facts}), flush=True)

    if "parameters" not in args.skip:
        shapes = [(1, 28, 28)] + [(3, side, side) for side in args.param_sizes]
        for shape in shapes:
            for front_end in args.front_ends:
                if front_end == "scaled_kernels" and shape[1] > 128:
                    continue  # 186 M parameters at 128 already; larger would not fit a laptop
                emit("parameters", count_parameters(shape, front_end))
    if "fit" not in args.skip:
        runs = {side: [] for side in args.fit_sizes}
        for _ in range(args.repeats):
            for side in args.fit_sizes:
                runs[side].append(
                    round(fit_throughput(side, args.fit_images, args.epochs, params), 2)
                )
        reference = statistics.median(runs[args.fit_sizes[0]])
        for side, values in runs.items():
            median = statistics.median(values)
            emit(
                "fit_throughput",
                {
                    "side": side,
                    "channels": 3,
                    "images": args.fit_images,
                    "images_per_s": values,
                    "median_images_per_s": round(median, 2),
                    f"ratio_to_{args.fit_sizes[0]}": round(median / reference, 3),
                },
            )
    if "memory" not in args.skip:
        command = [
            sys.executable,
            __file__,
            "--child-memory",
            "--memory-size",
            str(args.memory_size),
            "--memory-images",
            str(args.memory_images),
            "--params",
            args.params,
        ]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        emit("fit_memory", json.loads(output.strip().splitlines()[-1]))


if __name__ == "__main__":
    main()
