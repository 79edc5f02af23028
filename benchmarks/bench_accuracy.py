"""Fashion-MNIST test accuracy per epoch against training seconds; prints JSON lines.

One line per epoch (cumulative fit seconds, without the evaluation, and test
accuracy), then a summary line. On a GPU run it whole; on a CPU use a subset and
a smaller network to see the curve rise:

    python benchmarks/bench_accuracy.py                                   # GPU: all data
    python benchmarks/bench_accuracy.py --train-size 6000 --test-size 2000 \\
        --params '{"conv_channels": 64, "primary_types": 16, "max_epochs": 6}'

Needs the Fashion-MNIST IDX files (``apt-get install dataset-fashion-mnist``).
"""

import argparse
import json
import time

import numpy as np
import torch
from environment import machine
from skorch.callbacks import Callback

from sklearn_capsnet import CapsNetClassifier
from sklearn_capsnet._loader import ArrayDataset
from sklearn_capsnet.datasets import load_fashion_mnist


class TestAccuracy(Callback):
    """After each epoch, print test accuracy and the training seconds so far.

    ``y_test`` holds class indices (Fashion-MNIST's labels are 0-9 already).
    """

    def __init__(self, X_test, y_test, header):
        self.X_test, self.y_test, self.header = X_test, y_test, header

    def on_train_begin(self, net, **kwargs):
        self.train_seconds, self.start = 0.0, time.perf_counter()
        self.curve = []

    def on_epoch_end(self, net, **kwargs):
        self.train_seconds += time.perf_counter() - self.start
        with torch.inference_mode():
            capsules = net.forward(ArrayDataset(self.X_test))[: len(self.X_test)]
        predicted = capsules.norm(dim=-1).argmax(dim=1).numpy()
        accuracy = float(np.mean(predicted == self.y_test))
        self.curve.append((round(self.train_seconds, 2), round(accuracy, 5)))
        record = {**self.header, "epoch": len(net.history), "fit_seconds": self.curve[-1][0]}
        print(json.dumps({**record, "test_accuracy": accuracy}), flush=True)
        self.start = time.perf_counter()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="{}", help="JSON dict of CapsNetClassifier params")
    parser.add_argument("--train-size", type=int, default=None, help="first N training images")
    parser.add_argument("--test-size", type=int, default=None, help="first N test images")
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    X_train, y_train = load_fashion_mnist(
        data_home=args.data_home, subset="train", return_X_y=True
    )
    X_test, y_test = load_fashion_mnist(data_home=args.data_home, subset="test", return_X_y=True)
    X_train, y_train = X_train[: args.train_size], y_train[: args.train_size]
    X_test, y_test = X_test[: args.test_size], y_test[: args.test_size]
    params = json.loads(args.params)
    clf = CapsNetClassifier(random_state=args.seed, **params)
    header = {
        "benchmark": "fashion_mnist_accuracy",
        "params": params,
        "train_size": len(y_train),
        "test_size": len(y_test),
    }
    probe = TestAccuracy(X_test, y_test, header)
    clf.set_params(callbacks=[("test_accuracy", probe)])
    clf.fit(X_train, y_train)
    probe = dict(clf.net_.callbacks_)["test_accuracy"]
    summary = {
        **header,
        "summary": True,
        "curve": probe.curve,
        "final_test_accuracy": probe.curve[-1][1],
        "best_test_accuracy": max(acc for _, acc in probe.curve),
        "fit_seconds": probe.curve[-1][0],
        "n_parameters": sum(p.numel() for p in clf.net_.module_.parameters()),
        **machine(clf.device_),
    }
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
