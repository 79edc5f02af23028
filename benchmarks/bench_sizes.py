"""Accuracy against image size with the default network; prints JSON lines.

Tasks (``--tasks``), each trained with the default ``CapsNetClassifier`` (``--params``
adds others):

- ``fashion``: Debian's Fashion-MNIST, the first ``--train`` training and ``--test``
  test images, brought to each of ``--sizes`` two ways: ``centred`` on a black canvas
  of that side (the object keeps its 28×28 pixels; a side under 28 is not centred)
  and ``upsampled`` (bilinear, no new information). ``--epochs`` epochs. Neither
  adds information, so every size should reach about the 28×28 accuracy.
- ``overlapping``: the paper's MultiMNIST task in small: pairs of different
  scikit-learn digits, each upsampled to 28×28 and shifted by up to ±4 pixels on a
  36×36 canvas (pixel-wise maximum), ``--pairs`` for training and a quarter of that
  for testing, drawn from disjoint digit images. The CapsNet learns the 0/1 indicator
  matrix (multilabel margin loss) for ``--pair-epochs`` epochs; an
  ``MLPClassifier(256, 256)`` learns the same. Scored on both digits right (exact
  match) and on the two top scores naming the two digits.

    python benchmarks/bench_sizes.py --tasks fashion --sizes 28 40 64
"""

import argparse
import json
import time

import numpy as np
import torch
import torch.nn.functional as F
from environment import machine
from sklearn.datasets import load_digits
from sklearn.neural_network import MLPClassifier

from sklearn_capsnet import CapsNetClassifier
from sklearn_capsnet.datasets import load_fashion_mnist

TASKS = ("fashion", "overlapping")
SIZES = [28, 32, 33, 36, 40, 48, 56, 64, 96, 128, 160, 224]


def upsample(images: np.ndarray, side: int) -> np.ndarray:
    """uint8 ``(n, h, w)`` to ``(n, side, side)``, bilinear, rounded back to uint8."""
    if images.shape[1:] == (side, side):
        return images
    out = np.empty((len(images), side, side), dtype=np.uint8)
    for start in range(0, len(images), 1000):  # bounded memory for many large images
        x = torch.from_numpy(images[start : start + 1000]).float()[:, None]
        x = F.interpolate(x, size=(side, side), mode="bilinear", align_corners=False)
        out[start : start + 1000] = x[:, 0].round().clamp(0, 255).to(torch.uint8).numpy()
    return out


def centre(images: np.ndarray, side: int) -> np.ndarray:
    """uint8 ``(n, 28, 28)`` in the middle of a black ``(n, side, side)`` canvas."""
    n, height, width = images.shape
    canvas = np.zeros((n, side, side), dtype=np.uint8)
    top, left = (side - height) // 2, (side - width) // 2
    canvas[:, top : top + height, left : left + width] = images
    return canvas


def fit_and_score(X_train, y_train, X_test, y_test, epochs, args) -> dict:
    clf = CapsNetClassifier(**args.params, max_epochs=epochs, random_state=args.seed)
    start = time.perf_counter()
    clf.fit(X_train, y_train)
    fit_s = time.perf_counter() - start
    return {
        "train": len(X_train),
        "test": len(X_test),
        "epochs": epochs,
        "seed": args.seed,
        "network": clf.net_.capsnet().describe(),
        "accuracy": round(clf.score(X_test, y_test), 4),
        "train_loss": [round(v, 4) for v in clf.loss_curve_],
        "fit_s": round(fit_s, 1),
        "fit_images_per_s": round(len(X_train) * epochs / fit_s, 1),
    }


def fashion_task(args, emit) -> None:
    X_train, y_train = load_fashion_mnist(data_home=args.data_home, return_X_y=True)
    X_test, y_test = load_fashion_mnist(data_home=args.data_home, subset="test", return_X_y=True)
    X_train = X_train[: args.train].reshape(-1, 28, 28)
    X_test = X_test[: args.test].reshape(-1, 28, 28)
    y_train, y_test = y_train[: args.train], y_test[: args.test]
    for side in args.sizes:
        ways = (
            {"upsampled": upsample} if side == 28 else {"centred": centre, "upsampled": upsample}
        )
        for way, bring in ways.items():
            if (side < 28 and way == "centred") or (side != 28 and way not in args.ways):
                continue
            record = fit_and_score(
                bring(X_train, side), y_train, bring(X_test, side), y_test, args.epochs, args
            )
            way = way if side != 28 else "as is"
            emit({"task": "fashion", "side": side, "way": way, "params": args.params, **record})


def overlapping_pairs(n_pairs, pool, images, labels, rng, side=36, shift=4):
    """Pairs of different digits (28×28 each), shifted by up to ``shift`` pixels on a
    ``side`` canvas, pixel-wise maximum; the indicator matrix of their labels."""
    X = np.zeros((n_pairs, side, side), dtype=np.uint8)
    Y = np.zeros((n_pairs, 10), dtype=int)
    middle = (side - 28) // 2
    for k in range(n_pairs):
        first = rng.choice(pool)
        second = rng.choice(pool[labels[pool] != labels[first]])
        for index in (first, second):
            dy, dx = middle + rng.integers(-shift, shift + 1, size=2)
            window = X[k, dy : dy + 28, dx : dx + 28]
            np.maximum(window, images[index], out=window)
            Y[k, labels[index]] = 1
    return X, Y


def top_two_right(scores: np.ndarray, Y: np.ndarray) -> float:
    """Share of examples whose two highest scores are exactly their two labels."""
    top = np.argsort(-scores, axis=1)[:, :2]
    return float(np.mean(np.take_along_axis(Y, top, axis=1).sum(axis=1) == 2))


def overlapping_task(args, emit) -> None:
    digits = load_digits()
    images = upsample((digits.images * (255 / 16)).round().astype(np.uint8), 28)
    labels = digits.target
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(labels))
    train_pool, test_pool = order[:1300], order[1300:]  # no digit image in both sets
    X_train, Y_train = overlapping_pairs(args.pairs, train_pool, images, labels, rng)
    X_test, Y_test = overlapping_pairs(args.pairs // 4, test_pool, images, labels, rng)
    common = {"task": "overlapping", "side": 36, "train": len(X_train), "test": len(X_test)}

    clf = CapsNetClassifier(**args.params, max_epochs=args.pair_epochs, random_state=args.seed)
    start = time.perf_counter()
    clf.fit(X_train, Y_train)
    fit_s = time.perf_counter() - start
    emit(
        {
            **common,
            "model": "CapsNet",
            "epochs": args.pair_epochs,
            "network": clf.net_.capsnet().describe(),
            "both_right": round(float(np.mean((clf.predict(X_test) == Y_test).all(1))), 4),
            "top_two_right": round(top_two_right(clf.predict_proba(X_test), Y_test), 4),
            "fit_s": round(fit_s, 1),
        }
    )
    mlp = MLPClassifier(hidden_layer_sizes=(256, 256), max_iter=200, random_state=args.seed)
    start = time.perf_counter()
    mlp.fit(X_train.reshape(len(X_train), -1) / 255.0, Y_train)
    fit_s = time.perf_counter() - start
    flat = X_test.reshape(len(X_test), -1) / 255.0
    emit(
        {
            **common,
            "model": "MLPClassifier(256, 256)",
            "both_right": round(float(np.mean((mlp.predict(flat) == Y_test).all(1))), 4),
            "top_two_right": round(top_two_right(mlp.predict_proba(flat), Y_test), 4),
            "fit_s": round(fit_s, 1),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument("--sizes", type=int, nargs="+", default=SIZES)
    parser.add_argument("--train", type=int, default=2000)
    parser.add_argument("--test", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--ways", nargs="+", default=["centred", "upsampled"])
    parser.add_argument("--pairs", type=int, default=3000)
    parser.add_argument("--pair-epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-home", default=None, help="Fashion-MNIST's folder")
    parser.add_argument("--params", default="{}", help="JSON of other CapsNetClassifier params")
    args = parser.parse_args()
    args.params = json.loads(args.params)
    facts = machine("cpu")

    def emit(record):
        print(json.dumps({"benchmark": "sizes", **record, **facts}), flush=True)

    if "fashion" in args.tasks:
        fashion_task(args, emit)
    if "overlapping" in args.tasks:
        overlapping_task(args, emit)


if __name__ == "__main__":
    main()
