"""``mixed_precision="auto"`` on this CPU against float32 and bf16; JSON lines.

For each ``--shapes`` image shape (random uint8 images; the speed does not depend
on what they show), the default ``CapsNetClassifier`` trained for two epochs on
``--rows`` images in float32 (``"no"``), in bf16 and with ``"auto"``, in
alternating rounds: the second epoch's seconds (the history's ``dur``) and the
seconds of ``predict`` on the same images (the faster of two calls). ``"auto"``
is then compared with the better of the other two (its choice is at most 10 %
slower by design), and its measurement cost is the first ``fit``'s time less its
two epochs. The choice is measured once in this process (the later rounds reuse it)
and not kept on disk (``SKLEARN_CAPSNET_CACHE_DIR=""``), so the first ``"auto"`` fit
pays for its measurement here, as on a machine new to it.

    python benchmarks/bench_precision.py --shapes 28x28x1 32x32x3 64x64x3
"""

import argparse
import json
import os
import time
import warnings

os.environ["SKLEARN_CAPSNET_CACHE_DIR"] = ""  # measure here, as a first run would

import numpy as np
from environment import machine

from sklearn_capsnet import CapsNetClassifier
from sklearn_capsnet.training.precision import cpu_has_native_bf16

MODES = ("no", "bf16", "auto")


def shape(text: str) -> tuple:
    height, width, channels = (int(v) for v in text.split("x"))
    return (height, width, channels) if channels > 1 else (height, width)


def run(X, y, mode):
    clf = CapsNetClassifier(max_epochs=2, mixed_precision=mode, random_state=0)
    start = time.perf_counter()
    clf.fit(X, y)
    fit_s = time.perf_counter() - start
    predict_s = []
    for _ in range(2):
        start = time.perf_counter()
        clf.predict(X)
        predict_s.append(time.perf_counter() - start)
    durations = clf.history_[:, "dur"]
    return {
        "epoch_s": durations[-1],
        "overhead_s": fit_s - sum(durations),
        "predict_s": min(predict_s),
        "precision": clf.training_precision_,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", nargs="+", default=["28x28x1", "32x32x3", "64x64x3"])
    parser.add_argument("--rows", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    rng = np.random.default_rng(0)
    for text in args.shapes:
        X = rng.integers(0, 256, (args.rows, *shape(text)), dtype=np.uint8)
        y = np.arange(args.rows) % 10
        results = {mode: [] for mode in MODES}
        for _ in range(args.rounds):
            for mode in MODES:
                results[mode].append(run(X, y, mode))
        median = {
            (mode, key): float(np.median([r[key] for r in results[mode]]))
            for mode in MODES
            for key in ("epoch_s", "predict_s")
        }
        best = {
            key: min(median["no", key], median["bf16", key]) for key in ("epoch_s", "predict_s")
        }
        auto = results["auto"]
        record = {
            "benchmark": "precision",
            "shape": text,
            "rows": args.rows,
            "native_bf16": cpu_has_native_bf16(),
            **{f"{mode}_{key}": round(value, 3) for (mode, key), value in median.items()},
            "auto_trains_in": auto[0]["precision"],
            "auto_epoch_vs_best": round(median["auto", "epoch_s"] / best["epoch_s"], 3),
            "auto_predict_vs_best": round(median["auto", "predict_s"] / best["predict_s"], 3),
            "auto_first_overhead_s": round(auto[0]["overhead_s"], 2),
            "no_first_overhead_s": round(results["no"][0]["overhead_s"], 2),
            **machine("cpu"),
        }
        print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
