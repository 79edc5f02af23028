"""Class-capsule initialisation: starting lengths, and the first training steps on 28×28.

Two measurements, each printing JSON lines:

``--lengths``: mean class-capsule length of a fresh default network for each input size,
routing and class count, fed (a) images of shapes (tables: uniform rows) and (b) child
capsules at full length, the state Adam reaches within a few steps.

``--learn STEPS``: the default estimator trained for STEPS steps (two epochs) on shapes of
each size (tables: ``make_classification``), both routings, and 2 and 100 classes at 28×28
(``--learn-classes``);
reports the loss per epoch and held-out accuracy.

``--train STEPS``: the default 28×28 network trained for STEPS Adam steps (batch 32,
lr 1e-3) on the first 2,000 Fashion-MNIST training images, for each class-capsule
weight setting in ``--inits``: "current" (``W = scale * weight``, Adam on ``weight``),
"unscaled" (the same starting ``W``, Adam on ``W`` itself), "old" (the former N(0, 1/P),
Adam on ``W``) or a number x (N(0, x²), Adam on ``W``); reports the loss and the test
accuracy on the next 1,000 images.

    python benchmarks/bench_init.py --lengths
    python benchmarks/bench_init.py --train 150 --inits current unscaled old 0.01
    python benchmarks/bench_init.py --learn 40
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from environment import machine

from sklearn_capsnet.nn import CapsNet, CapsuleLoss

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from shapes import SIZES, make_shapes, network_inputs  # noqa: E402


def starting_lengths(sizes) -> None:
    for routing in ("dynamic", "self_attention"):
        for name in sizes:
            shape = SIZES[name]
            for n_classes in (2, 10, 100):
                torch.manual_seed(0)
                net = CapsNet(shape, n_classes, routing=routing)
                n_children = net.n_primary
                children = torch.nn.functional.normalize(torch.randn(16, n_children, 8), dim=-1)
                with torch.no_grad():
                    on_images = net(network_inputs(shape)).norm(dim=-1)
                    at_full_length = net.classes(children).norm(dim=-1)
                record = {
                    "benchmark": "class_capsule_init_lengths",
                    "routing": routing,
                    "input": name,
                    "classes": n_classes,
                    "children": n_children,
                    "weight_std": round(float(net.classes.prediction_weight.detach().std()), 4),
                    "mean_length_on_images": round(float(on_images.mean()), 4),
                    "mean_length_children_at_full_length": round(float(at_full_length.mean()), 4),
                }
                print(json.dumps(record), flush=True)


def _set_init(net, init: str) -> None:
    """Give ``net``'s class capsules the weight setting ``init`` (see ``--train``)."""
    if init == "current":
        return
    layer = net.classes
    std = layer.scale if init == "unscaled" else 8**-0.5 if init == "old" else float(init)
    with torch.no_grad():
        layer.weight.mul_(std)  # weight ~ N(0, std²) is W itself: Adam steps on W
    layer.scale = 1.0


def first_steps(steps: int, inits, data_home) -> None:
    from sklearn_capsnet.datasets import load_fashion_mnist

    images, labels = load_fashion_mnist(data_home=data_home, subset="train", return_X_y=True)
    n = min(3000, len(images))
    n_train = 2 * n // 3  # 2,000 to train on, the next 1,000 to test
    X = torch.from_numpy(images[:n].reshape(-1, 1, 28, 28) / 255.0).float()
    y = torch.from_numpy(labels[:n])
    for init in inits:
        torch.manual_seed(0)
        net = CapsNet((1, 28, 28), 10)
        _set_init(net, init)
        std = round(float(net.classes.prediction_weight.detach().std()), 4)
        optimizer, loss_fn, losses = torch.optim.Adam(net.parameters(), 1e-3), CapsuleLoss(), []
        start = time.perf_counter()
        for _ in range(steps):
            batch = torch.randint(0, n_train, (32,))
            capsules = net(X[batch])
            loss = loss_fn(capsules, y[batch], net.reconstruct(capsules, y[batch]), X[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        with torch.no_grad():
            lengths = torch.cat([net(X[k : k + 250]).norm(dim=-1) for k in range(n_train, n, 250)])
        record = {
            "benchmark": "class_capsule_init_training",
            "init": init,
            "weight_std_at_start": std,
            "steps": steps,
            "loss_first_10": round(float(np.mean(losses[:10])), 4),
            "loss_last_20": round(float(np.mean(losses[-20:])), 4),
            "test_accuracy": round(float((lengths.argmax(1) == y[n_train:]).float().mean()), 4),
            "test_length_mean": round(float(lengths.mean()), 4),
            "test_length_min": round(float(lengths.min()), 4),
            "test_length_max": round(float(lengths.max()), 4),
            "seconds": round(time.perf_counter() - start, 1),
            **machine("cpu"),
        }
        print(json.dumps(record), flush=True)


def learning(steps: int, sizes, classes=(2, 100)) -> None:
    """Train the default estimator for ``steps`` steps (two epochs) on shapes or a table."""
    from sklearn.datasets import make_classification

    from sklearn_capsnet import CapsNetClassifier

    cases = [(name, routing, 10) for routing in ("dynamic", "self_attention") for name in sizes]
    cases += [("28x28", routing, n) for routing in ("dynamic", "self_attention") for n in classes]
    n_train = steps // 2 * 32
    for name, routing, n_classes in cases:
        channels, height, width = SIZES[name]
        n = n_train + 320
        if height * width == 1:
            X, y = make_classification(
                n, n_features=channels, n_informative=channels // 2, n_classes=n_classes,
                n_clusters_per_class=1, random_state=0,
            )  # fmt: skip
        else:
            X, y = make_shapes(n, (height, width), channels * (channels > 1), n_classes, seed=0)
            if channels > 1:  # channels first, as the estimator reads image stacks
                X = X.transpose(0, 3, 1, 2)
        clf = CapsNetClassifier(max_epochs=2, routing=routing, random_state=0)
        start = time.perf_counter()
        clf.fit(X[:n_train], y[:n_train])
        seconds = time.perf_counter() - start
        lengths = np.linalg.norm(clf.capsules(X[n_train:]), axis=-1)
        record = {
            "benchmark": "default_network_learns",
            "input": name,
            "routing": routing,
            "classes": n_classes,
            "steps": 2 * (n_train // 32),
            "train_loss_per_epoch": [round(v, 4) for v in clf.history_[:, "train_loss"]],
            "test_accuracy": round(float(clf.score(X[n_train:], y[n_train:])), 4),
            "test_length_mean": round(float(lengths.mean()), 4),
            "test_length_spread_over_classes": round(float(lengths.std(axis=1).mean()), 4),
            "fit_seconds": round(seconds, 1),
        }
        print(json.dumps(record), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lengths", action="store_true")
    parser.add_argument("--train", type=int, default=0, metavar="STEPS")
    parser.add_argument("--learn", type=int, default=0, metavar="STEPS")
    parser.add_argument("--inits", nargs="+", default=["current", "old"])
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--learn-classes", type=int, nargs="+", default=[2, 100],
                        help="class counts of --learn's 28x28 cases")  # fmt: skip
    args = parser.parse_args()
    if args.lengths:
        starting_lengths(args.sizes)
    if args.train:
        first_steps(args.train, args.inits, args.data_home)
    if args.learn:
        learning(args.learn, args.sizes, args.learn_classes)


if __name__ == "__main__":
    main()
