"""Fashion-MNIST test accuracy per epoch against training seconds; prints JSON lines.

One line per epoch (cumulative fit seconds, without the evaluation, and test
accuracy), then a summary line. On a GPU run it whole; on a CPU use a subset and
a smaller network to see the curve rise:

    python benchmarks/bench_accuracy.py                                   # GPU: all data
    python benchmarks/bench_accuracy.py --train-size 6000 --test-size 2000 \\
        --params '{"conv_channels": 64, "primary_types": 16, "max_epochs": 6}'
    # the default network on a CPU, beside scikit-learn's classifiers on the same split
    python benchmarks/bench_accuracy.py --train-size 5000 --params '{"max_epochs": 10}' \\
        --baselines

Needs the Fashion-MNIST IDX files (``apt-get install dataset-fashion-mnist``).
"""

import argparse
import json
import time

import numpy as np
import torch
from environment import machine
from sklearn.ensemble import RandomForestClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.svm import SVC
from skorch.callbacks import Callback

from sklearn_capsnet import CapsNetClassifier
from sklearn_capsnet.data.loader import ArrayDataset
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


def baselines(seed: int) -> dict:
    """scikit-learn's usual classifiers, each after scaling the pixels to [0, 1]."""
    return {
        "SVC": SVC(),
        "RandomForestClassifier": RandomForestClassifier(random_state=seed),
        "MLPClassifier": MLPClassifier(random_state=seed),
    }


def score_baselines(X_train, y_train, X_test, y_test, seed: int, header: dict) -> dict:
    """Fit and score each baseline on the same split; one JSON line each."""
    scores = {}
    for name, model in baselines(seed).items():
        pipeline = make_pipeline(MinMaxScaler(), model)
        start = time.perf_counter()
        pipeline.fit(X_train, y_train)
        fit_seconds = time.perf_counter() - start
        scores[name] = float(pipeline.score(X_test, y_test))
        record = {**header, "baseline": name, "test_accuracy": scores[name]}
        print(json.dumps({**record, "fit_seconds": round(fit_seconds, 2)}), flush=True)
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="{}", help="JSON dict of CapsNetClassifier params")
    parser.add_argument("--train-size", type=int, default=None, help="first N training images")
    parser.add_argument("--test-size", type=int, default=None, help="first N test images")
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--baselines", action="store_true", help="also fit SVC, random forest and MLP"
    )
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
    baseline_scores = {}
    if args.baselines:
        baseline_scores = score_baselines(X_train, y_train, X_test, y_test, args.seed, header)
    summary = {
        **header,
        "summary": True,
        "curve": probe.curve,
        "final_test_accuracy": probe.curve[-1][1],
        "best_test_accuracy": max(acc for _, acc in probe.curve),
        "fit_seconds": probe.curve[-1][0],
        "n_parameters": sum(p.numel() for p in clf.net_.module_.parameters()),
        "baselines": baseline_scores,
        "beats_every_baseline": all(probe.curve[-1][1] > v for v in baseline_scores.values()),
        **machine(clf.device_),
    }
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
