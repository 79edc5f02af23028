"""Record, or compare against a record, what the default network answers: bit for bit.

A refactoring must not change what users get. This script fits the default
network (fixed ``random_state``) on the digits, on 28×28 Fashion-MNIST images
(uint8, channels last) and on 32×32×3 colour images (uint8, channels last), and
writes every answer the estimators give (``predict``, ``predict_proba``,
``decision_function``, ``transform``, ``reconstruct``, ``reconstruction_error``,
``coupling_coefficients``) to an ``.npz`` file. With ``--compare`` it computes
them again and reports, per answer, whether the arrays are identical, bit for bit.

Run it on the commit before a change (``--write before.npz``) and on the commit
after (``--compare before.npz``); prints JSON, exits 1 when anything differs.
``mixed_precision="auto"`` (the default) times both precisions on the machine, so
its choice can differ between two runs on a busy machine: for a comparison, pin it
(``--mixed-precision no`` or ``bf16``) in both runs, and the threads too
(``OMP_NUM_THREADS=1``): sums split over other thread counts differ in the last bits.
"""

import argparse
import json
import sys

import numpy as np

from sklearn_capsnet import CapsNetClassifier, CapsuleTransformer
from sklearn_capsnet._testing import digits_split
from sklearn_capsnet.datasets import load_fashion_mnist


def _colour_images(n: int, seed: int = 0):
    """``n`` 32×32×3 uint8 images of 3 classes: a red, green or blue square on noise."""
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 60, size=(n, 32, 32, 3), dtype=np.uint8)
    y = np.arange(n) % 3
    for k in range(n):
        top, left = rng.integers(2, 18, size=2)
        X[k, top : top + 12, left : left + 12, y[k]] = 230
    return X, y


def _datasets(n_images: int):
    X_train, X_test, y_train, y_test = digits_split()
    yield "digits", X_train, y_train, X_test[:200], 3
    X, y = load_fashion_mnist(subset="train", return_X_y=True)
    X = X.reshape(-1, 28, 28, 1)[: n_images + 100]  # channels last, uint8
    yield "fashion28", X[:n_images], y[:n_images], X[n_images:], 1
    X, y = _colour_images(n_images + 100)
    yield "colour32", X[:n_images], y[:n_images], X[n_images:], 1


def answers(n_images: int, mixed_precision: str = "auto") -> dict:
    """Every answer of the default network on each dataset, as arrays by name."""
    out = {}
    for name, X, y, X_new, epochs in _datasets(n_images):
        clf = CapsNetClassifier(max_epochs=epochs, mixed_precision=mixed_precision, random_state=0)
        clf.fit(X, y)
        out[f"{name}/predict"] = np.asarray(clf.predict(X_new))
        out[f"{name}/predict_proba"] = clf.predict_proba(X_new)
        out[f"{name}/decision_function"] = clf.decision_function(X_new)
        out[f"{name}/reconstruct"] = clf.reconstruct(X_new[:20])
        out[f"{name}/reconstruction_error"] = clf.reconstruction_error(X_new)
        out[f"{name}/coupling_coefficients"] = clf.coupling_coefficients(X_new[:5])
        out[f"{name}/loss_curve"] = np.asarray(clf.loss_curve_)
        caps = CapsuleTransformer(max_epochs=1, mixed_precision=mixed_precision, random_state=1)
        caps.fit(X, y)
        out[f"{name}/transform"] = caps.transform(X_new)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", help="record the answers into this .npz file")
    group.add_argument("--compare", help="compare the answers with this .npz record")
    parser.add_argument("--n-images", type=int, default=300)
    parser.add_argument("--mixed-precision", default="auto", choices=["auto", "bf16", "no"])
    args = parser.parse_args(argv)
    now = answers(args.n_images, args.mixed_precision)
    if args.write:
        np.savez(args.write, **now)
        print(json.dumps({"written": args.write, "answers": sorted(now)}))
        return 0
    before = dict(np.load(args.compare, allow_pickle=False))
    report = {
        key: bool(
            key in before
            and before[key].dtype == now[key].dtype
            and before[key].shape == now[key].shape
            and before[key].tobytes() == now[key].tobytes()
        )
        for key in sorted(set(before) | set(now))
    }
    same = all(report.values())
    print(json.dumps({"identical": same, "answers": report}, indent=1))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
