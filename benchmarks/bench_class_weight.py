"""Imbalanced digits: does ``class_weight="balanced"`` raise balanced accuracy?

The shared digits split, with the training rows of digits 0-4 thinned to about
10 % (random, fixed by ``--subsample-seed``); the 450 held-out digits stay as
they are. A CapsNetClassifier with its defaults is trained with
``class_weight=None`` and ``"balanced"`` per seed; prints one JSON line per fit
with balanced accuracy, accuracy and the recall of each digit.

    python benchmarks/bench_class_weight.py --seeds 0 1 2
"""

import argparse
import json
import time

import numpy as np
from environment import machine
from sklearn.metrics import balanced_accuracy_score, recall_score

from sklearn_capsnet import CapsNetClassifier
from sklearn_capsnet._testing import digits_split

RARE = (0, 1, 2, 3, 4)


def imbalanced(X, y, keep: float, seed: int):
    """All rows of the common digits, about ``keep`` of each rare digit's rows."""
    rng = np.random.default_rng(seed)
    kept = ~np.isin(y, RARE) | (rng.random(len(y)) < keep)
    return X[kept], y[kept]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--keep", type=float, default=0.1)
    parser.add_argument("--subsample-seed", type=int, default=0)
    parser.add_argument("--params", default="{}", help="JSON dict of CapsNetClassifier params")
    args = parser.parse_args()
    params = json.loads(args.params)
    X_train, X_test, y_train, y_test = digits_split(images=True)
    X_train, y_train = imbalanced(X_train, y_train, args.keep, args.subsample_seed)
    counts = np.bincount(y_train, minlength=10).tolist()
    for seed in args.seeds:
        for class_weight in (None, "balanced"):
            clf = CapsNetClassifier(class_weight=class_weight, random_state=seed, **params)
            start = time.perf_counter()
            clf.fit(X_train, y_train)
            seconds = time.perf_counter() - start
            predicted = clf.predict(X_test)
            record = {
                "benchmark": "imbalanced_digits",
                "class_weight": class_weight,
                "random_state": seed,
                "train_counts": counts,
                "balanced_accuracy": round(balanced_accuracy_score(y_test, predicted), 4),
                "accuracy": round(float(np.mean(predicted == y_test)), 4),
                "recall": [round(r, 3) for r in recall_score(y_test, predicted, average=None)],
                "fit_seconds": round(seconds, 1),
                "params": params,
            }
            print(json.dumps({**record, **machine(clf.device_)}), flush=True)


if __name__ == "__main__":
    main()
