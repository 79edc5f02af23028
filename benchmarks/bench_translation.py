"""Translation robustness on Fashion-MNIST: CapsNet against a plain CNN; prints JSON lines.

Both models go through the same scikit-learn API (the CNN is a skorch
``NeuralNetClassifier``), see the same training images for the same number of
epochs with the same batch size, optimiser (Adam, learning rate × ``lr_decay`` per
epoch) and the same random ±``shift``-pixel translations. They are then tested on
the test images moved by random offsets of up to ``s`` pixels along each axis
(``s`` = 0 … ``--max-test-shift``, zero fill; the same offsets for both models),
farther than anything seen in training.

    python benchmarks/bench_translation.py                                  # GPU: all data
    python benchmarks/bench_translation.py --train-size 10000 --test-size 2000 --epochs 8 \\
        --capsnet-params '{"conv_channels": 64, "primary_types": 16}'      # CPU: reduced

Needs the Fashion-MNIST IDX files (``apt-get install dataset-fashion-mnist``).
"""

import argparse
import json
import time

import numpy as np
import torch
from environment import machine
from skorch import NeuralNetClassifier
from skorch.callbacks import LRScheduler
from torch import nn

from sklearn_capsnet import CapsNetClassifier
from sklearn_capsnet.datasets import load_fashion_mnist
from sklearn_capsnet.nn.augment import random_shift


class PlainCNN(nn.Module):
    """Two 5×5 convolutions with max-pooling, then two dense layers.

    ``hidden`` (the width of the first dense layer) sets the size: see
    :func:`cnn_hidden_for`. ``shift`` is the training augmentation, applied on the
    device as for the CapsNet. ``input_shape`` is ``(channels, height, width)``.
    """

    def __init__(self, shift: int = 2, hidden: int = 384, input_shape=(1, 28, 28), n_classes=10):
        super().__init__()
        self.shift, self.input_shape = shift, tuple(input_shape)
        channels, height, width = self.input_shape
        self.features = nn.Sequential(
            nn.Conv2d(channels, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),  # [B, 64, H/2, W/2]
            nn.Conv2d(64, 128, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),  # [B, 128, H/4, W/4]
        )  # fmt: skip
        flat = 128 * (height // 4) * (width // 4)
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(flat, hidden), nn.ReLU(), nn.Linear(hidden, n_classes)
        )

    def forward(self, x):
        x = x.view(-1, *self.input_shape)
        if self.training:
            x = random_shift(x, self.shift)
        return self.head(self.features(x))  # logits


def cnn_hidden_for(n_parameters: int, input_shape=(1, 28, 28), n_classes: int = 10) -> int:
    """The dense width that gives :class:`PlainCNN` about ``n_parameters`` parameters."""
    channels, height, width = input_shape
    fixed = channels * 64 * 25 + 64 + 64 * 128 * 25 + 128 + n_classes
    per_hidden = 128 * (height // 4) * (width // 4) + 1 + n_classes
    return max(16, round((n_parameters - fixed) / per_hidden))


def shift_images(images: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Move each ``[H, W]`` image by its ``(dy, dx)`` offset, filling with zeros."""
    out = np.zeros_like(images)
    height, width = images.shape[1:]
    for k, (dy, dx) in enumerate(offsets):
        out[k, max(dy, 0) : height + min(dy, 0), max(dx, 0) : width + min(dx, 0)] = images[
            k, max(-dy, 0) : height - max(dy, 0), max(-dx, 0) : width - max(dx, 0)
        ]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--train-size", type=int, default=None, help="first N training images")
    parser.add_argument("--test-size", type=int, default=None, help="first N test images")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--lr-decay", type=float, default=0.95)
    parser.add_argument("--shift", type=int, default=2, help="training translations (pixels)")
    parser.add_argument("--max-test-shift", type=int, default=4)
    parser.add_argument("--capsnet-params", default="{}", help="JSON CapsNetClassifier params")
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    X_train, y_train = load_fashion_mnist(data_home=args.data_home, return_X_y=True)
    X_test, y_test = load_fashion_mnist(data_home=args.data_home, subset="test", return_X_y=True)
    X_train, y_train = X_train[: args.train_size], y_train[: args.train_size]
    X_test, y_test = X_test[: args.test_size], y_test[: args.test_size]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    shared = dict(max_epochs=args.epochs, batch_size=args.batch_size, lr=args.lr)

    capsnet = CapsNetClassifier(
        **shared, lr_decay=args.lr_decay, shift=args.shift, random_state=args.seed,
        **json.loads(args.capsnet_params),
    )  # fmt: skip

    def make_cnn(n_parameters):
        torch.manual_seed(args.seed)
        return NeuralNetClassifier(
            PlainCNN,
            module__shift=args.shift,
            module__hidden=cnn_hidden_for(n_parameters),
            criterion=nn.CrossEntropyLoss,  # the module returns logits
            optimizer=torch.optim.Adam,
            callbacks=[LRScheduler(torch.optim.lr_scheduler.ExponentialLR, gamma=args.lr_decay)],
            iterator_train__shuffle=True,  # as the CapsNet's loader
            train_split=None,
            device=device,
            verbose=0,
            **shared,
        )

    images = {  # what each model is fed: the CapsNet scales uint8 itself
        "capsnet": lambda X: X,
        "cnn": lambda X: (X.astype(np.float32) / 255.0).reshape(-1, 1, 28, 28),
    }
    info = machine(device)
    draws = np.random.default_rng(args.seed).random((len(X_test), 2))
    n_parameters = None
    for name in ("capsnet", "cnn"):
        model = capsnet if name == "capsnet" else make_cnn(n_parameters)
        start = time.perf_counter()
        model.fit(images[name](X_train), y_train.astype(np.int64))
        seconds = time.perf_counter() - start
        module = model.net_.module_ if name == "capsnet" else model.module_
        n_parameters = sum(p.numel() for p in module.parameters())
        accuracy = []
        for s in range(args.max_test_shift + 1):
            # per image and axis a uniform offset in {-s, ..., s}, the same for both models
            offsets = np.floor(draws * (2 * s + 1)).astype(int) - s  # [n, 2]
            X_moved = shift_images(X_test.reshape(-1, 28, 28), offsets).reshape(X_test.shape)
            accuracy.append(float(np.mean(model.predict(images[name](X_moved)) == y_test)))
        record = {
            "benchmark": "translation_robustness",
            "model": name,
            "train_size": len(X_train),
            "test_size": len(X_test),
            "epochs": args.epochs,
            "training_shift": args.shift,
            "n_parameters": n_parameters,
            "fit_seconds": round(seconds, 1),
            "test_accuracy_by_max_shift": dict(enumerate(accuracy)),
            "capsnet_params": json.loads(args.capsnet_params) if name == "capsnet" else None,
        }
        print(json.dumps({**record, **info}), flush=True)


if __name__ == "__main__":
    main()
