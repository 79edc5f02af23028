"""How well ``predict_proba`` is calibrated on the digits, before and after calibration.

The digits' training part (the shared split) is cut once more: 75 % trains a
CapsNetClassifier with its defaults, 25 % calibrates it with
``CalibratedClassifierCV(FrozenEstimator(clf), method=...)``; the 450 held-out
digits measure accuracy, mean confidence (largest probability), expected
calibration error (15 equal-width confidence bins, top-label), Brier score and
log loss. Prints one JSON line per seed.

    python benchmarks/bench_calibration.py --seeds 0 1 2
"""

import argparse
import json
import time

import numpy as np
from environment import machine
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split

from sklearn_capsnet import CapsNetClassifier
from sklearn_capsnet._testing import digits_split


def expected_calibration_error(proba, y, bins: int = 15) -> float:
    """Top-label ECE: the bin-weighted gap between confidence and accuracy."""
    confidence = proba.max(axis=1)
    correct = proba.argmax(axis=1) == y
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    gap = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            gap += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(gap)


def brier(proba, y) -> float:
    onehot = np.eye(proba.shape[1])[y]
    return float(np.mean(np.sum((proba - onehot) ** 2, axis=1)))


def scores(proba, y) -> dict:
    return {
        "accuracy": round(float(np.mean(proba.argmax(axis=1) == y)), 4),
        "mean_confidence": round(float(proba.max(axis=1).mean()), 4),
        "ece": round(expected_calibration_error(proba, y), 4),
        "brier": round(brier(proba, y), 4),
        "log_loss": round(float(log_loss(y, proba, labels=np.arange(proba.shape[1]))), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="{}", help="JSON dict of CapsNetClassifier params")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = parser.parse_args()
    params = json.loads(args.params)
    X_train, X_test, y_train, y_test = digits_split(images=True)
    X_fit, X_cal, y_fit, y_cal = train_test_split(
        X_train, y_train, test_size=0.25, stratify=y_train, random_state=0
    )
    for seed in args.seeds:
        start = time.perf_counter()
        clf = CapsNetClassifier(random_state=seed, **params).fit(X_fit, y_fit)
        record = {"benchmark": "digits_calibration", "params": params, "random_state": seed}
        record["uncalibrated"] = scores(clf.predict_proba(X_test), y_test)
        for method in ("sigmoid", "isotonic"):
            calibrated = CalibratedClassifierCV(FrozenEstimator(clf), method=method)
            calibrated.fit(X_cal, y_cal)
            record[method] = scores(calibrated.predict_proba(X_test), y_test)
        record["seconds"] = round(time.perf_counter() - start, 1)
        print(json.dumps({**record, **machine(clf.device_)}), flush=True)


if __name__ == "__main__":
    main()
