"""Held-out accuracy and fit time on scikit-learn's bundled digits; prints one JSON line.

The split is the one the issues name, shared with the tests and the demo
(``sklearn_capsnet._testing.digits_split``): 25 % stratified hold-out, random_state=0.

    python benchmarks/bench_digits.py                      # defaults (random_state=0)
    python benchmarks/bench_digits.py --params '{"max_epochs": 40}' --seeds 0 1 2
"""

import argparse
import json
import time

import numpy as np
from environment import machine

from sklearn_capsnet import CapsNetClassifier
from sklearn_capsnet._testing import digits_split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="{}", help="JSON dict of CapsNetClassifier params")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = parser.parse_args()
    params = json.loads(args.params)
    X_train, X_test, y_train, y_test = digits_split(images=True)
    for seed in args.seeds:
        clf = CapsNetClassifier(random_state=seed, **params)
        start = time.perf_counter()
        clf.fit(X_train, y_train)
        fit_seconds = time.perf_counter() - start
        accuracy = float(np.mean(clf.predict(X_test) == y_test))
        print(
            json.dumps(
                {
                    "benchmark": "digits_holdout",
                    "params": params,
                    "random_state": seed,
                    "accuracy": round(accuracy, 5),
                    "errors": int(round((1 - accuracy) * len(y_test))),
                    "fit_seconds": round(fit_seconds, 2),
                    "epochs": clf.n_iter_,
                    **machine(clf.device_),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
