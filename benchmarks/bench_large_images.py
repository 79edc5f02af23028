"""Accuracy of the default network on large images, per front end; prints JSON lines.

Tasks (``--tasks``), each trained with the default ``CapsNetClassifier`` and the given
``front_end`` values (up to the working size, 36 px, every front end is the same network, so
it runs once there):

- ``fashion``: Debian's Fashion-MNIST, the first ``--train`` training images and the
  first ``--test`` test images, upsampled (bilinear) from 28×28 to each of
  ``--fashion-sizes``, ``--epochs`` epochs. Upsampling adds no information, so every
  size should reach about the 28×28 accuracy.
- ``photos``: the gallery's colour photo patches (``examples/plot_colour_channels_last.py``):
  400 square patches from each of scikit-learn's two sample photographs, labelled by
  photograph, 25 % held out, at each of ``--photo-sizes``, ``--photo-epochs`` epochs.
- ``gratings``: :func:`~sklearn_capsnet.datasets.make_gratings` at ``--grating-size``:
  three classes that differ only in a texture of period 2 pixels, which a resize to
  the working size averages away.
- ``unusual``: Fashion-MNIST classes 0-7 upsampled to each of ``--unusual-sizes``
  (``64``, or ``64x96`` for a non-square image; ``--colour`` draws each image in its
  own colours on a coloured background), trained as ``fashion``; then
  ``reconstruction_error`` on held-out classes 0-7 against uniform noise, the
  held-out images with shuffled pixels, crops of scikit-learn's two sample
  photographs resized to the size (grey for a grey model), and classes 8-9 (never
  trained on): ROC AUC of the error, of the error ``relative=True``, and of
  ``1 - max predict_proba``.

How the default ``"conv"`` front end was chosen: ``--conv-norm`` replaces the BatchNorm
after each of its convolutions by a GroupNorm (4 groups) or by nothing, and
``--front-channels`` sets its width (16 in the package).

    python benchmarks/bench_large_images.py --tasks fashion --front-ends conv resize
"""

import argparse
import json
import time

import numpy as np
import torch
import torch.nn.functional as F
from environment import machine
from sklearn.datasets import load_sample_images
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from torch import nn

from sklearn_capsnet import CapsNetClassifier
from sklearn_capsnet.datasets import load_fashion_mnist, make_gratings
from sklearn_capsnet.nn import front_end as front_ends
from sklearn_capsnet.nn import working_size

TASKS = ("fashion", "photos", "gratings", "unusual")


NORMS = {
    "batchnorm": nn.BatchNorm2d,  # the package's
    "groupnorm": lambda channels: nn.GroupNorm(4, channels),
    "none": lambda channels: nn.Identity(),
}


def use_conv_variant(norm: str, channels: int) -> None:
    """Make the "conv" front end this variant: ``channels`` wide, ``norm`` after each conv."""
    front_ends.FRONT_CHANNELS = channels
    if norm == "batchnorm":
        return
    make_norm = NORMS[norm]

    class Variant(front_ends.StridedConvolutions):
        def __init__(self, input_shape, primary_grid):
            super().__init__(input_shape, primary_grid)
            self.stages = nn.Sequential(
                *(
                    make_norm(layer.num_features) if isinstance(layer, nn.BatchNorm2d) else layer
                    for layer in self.stages
                )
            )

    front_ends.FRONT_ENDS["conv"] = Variant


def upsample(images: np.ndarray, side) -> np.ndarray:
    """uint8 ``(n, 28, 28)`` to ``(n, side, side)`` (or ``(n, height, width)`` for a
    pair ``side``), bilinear, rounded back to uint8."""
    height, width = (side, side) if np.isscalar(side) else side
    if images.shape[1:] == (height, width):
        return images
    out = np.empty((len(images), height, width), dtype=np.uint8)
    for start in range(0, len(images), 1000):  # bounded memory for 10,000 large images
        x = torch.from_numpy(images[start : start + 1000]).float()[:, None]
        x = F.interpolate(x, size=(height, width), mode="bilinear", align_corners=False)
        out[start : start + 1000] = x[:, 0].round().clamp(0, 255).to(torch.uint8).numpy()
    return out


def in_colour(images: np.ndarray, seed: int) -> np.ndarray:
    """Grey uint8 images ``(n, h, w)`` drawn in colour, channels last: each image its own
    colour of object (where the grey is bright) on its own coloured background."""
    rng = np.random.default_rng(seed)
    ink = rng.integers(96, 256, (len(images), 1, 1, 3))
    paper = rng.integers(0, 96, (len(images), 1, 1, 3))
    alpha = images[..., None].astype(np.float32) / 255
    return np.round(alpha * ink + (1 - alpha) * paper).astype(np.uint8)


def size_of(text: str) -> tuple[int, int]:
    """``"64"`` as (64, 64), ``"64x96"`` as (64, 96): an image's height and width."""
    height, _, width = text.partition("x")
    return int(height), int(width or height)


def photo_patches(side: int, per_photo: int, seed: int = 0):
    """The gallery's task: square patches of the two sample photographs, labelled by photo."""
    photos = load_sample_images()
    rng = np.random.default_rng(seed)
    patches, labels = [], []
    for label, image in enumerate(photos.images):  # uint8 (427, 640, 3)
        for _ in range(per_photo):
            top = rng.integers(0, image.shape[0] - side)
            left = rng.integers(0, image.shape[1] - side)
            patches.append(image[top : top + side, left : left + side])
            labels.append(label)
    return np.stack(patches), np.array(labels)


def fit_and_score(X_train, y_train, X_test, y_test, front_end, epochs, args):
    """The default classifier (with ``--params``) and ``front_end``: accuracy, fit time,
    the fitted model."""
    clf = CapsNetClassifier(
        **args.params, max_epochs=epochs, front_end=front_end, random_state=args.seed
    )
    start = time.perf_counter()
    clf.fit(X_train, y_train)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    accuracy = clf.score(X_test, y_test)
    predict_s = time.perf_counter() - start
    record = {
        "train": len(X_train),
        "test": len(X_test),
        "epochs": epochs,
        "front_end": front_end,
        "conv_variant": {"norm": args.conv_norm, "channels": args.front_channels},
        "network": clf.net_.capsnet().describe(),
        "accuracy": round(accuracy, 4),
        "train_loss": [round(v, 4) for v in clf.loss_curve_],
        "fit_s": round(fit_s, 1),
        "fit_images_per_s": round(len(X_train) * epochs / fit_s, 1),
        "predict_images_per_s": round(len(X_test) / predict_s, 1),
    }
    return record, clf


def front_ends_for(side: int, front_ends):
    """Up to the working size (36 px) all front ends build one network: run it once."""
    return front_ends if working_size(side, side) != (side, side) else front_ends[:1]


def fashion_task(args, emit):
    X_train, y_train = load_fashion_mnist(data_home=args.data_home, return_X_y=True)
    X_test, y_test = load_fashion_mnist(data_home=args.data_home, subset="test", return_X_y=True)
    X_train = X_train[: args.train].reshape(-1, 28, 28)
    X_test = X_test[: args.test].reshape(-1, 28, 28)
    for side in args.fashion_sizes:
        train, test = upsample(X_train, side), upsample(X_test, side)
        for front_end in front_ends_for(side, args.front_ends):
            record, _ = fit_and_score(
                train,
                y_train[: args.train],
                test,
                y_test[: args.test],
                front_end,
                args.epochs,
                args,
            )
            emit({"task": "fashion", "side": side, **record})


def photos_task(args, emit):
    for side in args.photo_sizes:
        X, y = photo_patches(side, args.photo_count)
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=0.25, stratify=y, random_state=0
        )
        for front_end in front_ends_for(side, args.front_ends):
            record, _ = fit_and_score(
                X_train, y_train, X_test, y_test, front_end, args.photo_epochs, args
            )
            emit({"task": "photos", "side": side, **record})


def gratings_task(args, emit):
    side = args.grating_size
    X_train, y_train = make_gratings(args.grating_train, side, random_state=0)
    X_test, y_test = make_gratings(args.grating_test, side, random_state=1)
    for front_end in args.front_ends:
        record, _ = fit_and_score(
            X_train, y_train, X_test, y_test, front_end, args.grating_epochs, args
        )
        emit({"task": "gratings", "side": side, "chance": round(1 / 3, 4), **record})


def unusual_task(args, emit):
    """Unusual inputs against a model of Fashion-MNIST classes 0-7 (``--colour``: drawn in
    colour), at each ``--unusual-sizes`` (``64`` or ``64x96``): uniform noise, held-out
    images with their pixels shuffled, crops of the sample photographs, and the
    classes 8 and 9, never trained on."""
    X_train, y_train = load_fashion_mnist(data_home=args.data_home, return_X_y=True)
    X_test, y_test = load_fashion_mnist(data_home=args.data_home, subset="test", return_X_y=True)
    known_train = y_train < 8
    X_train = X_train[known_train][: args.train].reshape(-1, 28, 28)
    y_train = y_train[known_train][: args.train]
    X_test = X_test[: args.test].reshape(-1, 28, 28)
    y_test = y_test[: args.test]
    rng = np.random.default_rng(0)
    photos = load_sample_images().images  # uint8 (427, 640, 3)
    for text in args.unusual_sizes:
        size = size_of(text)
        train, test = upsample(X_train, size), upsample(X_test, size)
        if args.colour:
            train, test = in_colour(train, seed=1), in_colour(test, seed=2)
        known, unseen = test[y_test < 8], test[y_test >= 8]
        pixels = known.reshape(len(known), size[0] * size[1], -1)  # a pixel: its channels
        crops = resized_crops(photos, len(known), size, rng)
        kinds = {
            "uniform_noise": rng.integers(0, 256, known.shape, dtype=np.uint8),
            "shuffled_pixels": np.stack([rng.permutation(x) for x in pixels]).reshape(known.shape),
            "photo_crops": crops if args.colour else grey(crops),
            "unseen_classes_8_9": unseen,
        }
        for front_end in front_ends_for(max(size), args.front_ends):
            record, clf = fit_and_score(
                train, y_train, known, y_test[y_test < 8], front_end, args.epochs, args
            )
            normal_error = clf.reconstruction_error(known)
            normal_relative = clf.reconstruction_error(known, relative=True)
            normal_doubt = 1 - clf.predict_proba(known).max(axis=1)
            threshold = np.percentile(clf.reconstruction_error(train[:2000]), 99)
            aucs = {}
            for kind, X in kinds.items():
                error = clf.reconstruction_error(X)
                relative = clf.reconstruction_error(X, relative=True)
                doubt = 1 - clf.predict_proba(X).max(axis=1)
                labels = np.r_[np.zeros(len(known)), np.ones(len(X))]
                aucs[kind] = {
                    "median_error": round(float(np.median(error)), 4),
                    "flagged": round(float((error > threshold).mean()), 4),
                    "auc_reconstruction_error": round(
                        roc_auc_score(labels, np.r_[normal_error, error]), 4
                    ),
                    "auc_relative_error": round(
                        roc_auc_score(labels, np.r_[normal_relative, relative]), 4
                    ),
                    "auc_one_minus_max_proba": round(
                        roc_auc_score(labels, np.r_[normal_doubt, doubt]), 4
                    ),
                }
            emit(
                {
                    "task": "unusual",
                    "side": text,
                    "colour": bool(args.colour),
                    "normal_median_error": round(float(np.median(normal_error)), 4),
                    "threshold_99th_percentile_train": round(float(threshold), 4),
                    "kinds": aucs,
                    **record,
                }
            )


def resized_crops(photos, n: int, size, rng) -> np.ndarray:
    """``n`` random crops of the photographs, each of a random side from 64 px to the
    photo's height with the aspect of ``size``, resized (bilinear) to ``size``:
    uint8 ``(n, height, width, 3)``."""
    height, width = size
    out = np.empty((n, height, width, 3), dtype=np.uint8)
    for i in range(n):
        photo = photos[i % len(photos)]
        scale = rng.uniform(64, min(photo.shape[0], photo.shape[1] * height / width))
        h, w = int(scale), int(scale * width / height)
        top = rng.integers(0, photo.shape[0] - h + 1)
        left = rng.integers(0, photo.shape[1] - w + 1)
        crop = torch.from_numpy(photo[top : top + h, left : left + w]).permute(2, 0, 1)
        crop = F.interpolate(crop[None].float(), size=size, mode="bilinear", align_corners=False)
        out[i] = crop[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).numpy()
    return out


def grey(images: np.ndarray) -> np.ndarray:
    """Channels-last colour uint8 images as grey ``(n, height, width)`` (ITU-R 601 luma)."""
    luma = images.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return np.round(luma).astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument("--front-ends", nargs="+", default=["conv", "space_to_depth", "resize"])
    parser.add_argument("--train", type=int, default=5000)
    parser.add_argument("--test", type=int, default=10000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--fashion-sizes", type=int, nargs="+", default=[28, 56, 112])
    parser.add_argument("--photo-sizes", type=int, nargs="+", default=[32, 64, 128])
    parser.add_argument("--photo-epochs", type=int, default=5)
    parser.add_argument("--photo-count", type=int, default=400, help="patches per photograph")
    parser.add_argument("--grating-size", type=int, default=128)
    parser.add_argument("--grating-train", type=int, default=900)
    parser.add_argument("--grating-test", type=int, default=300)
    parser.add_argument("--grating-epochs", type=int, default=3)
    parser.add_argument(
        "--unusual-sizes", nargs="+", default=["64", "128"], help="sides, or HxW: 64x96"
    )
    parser.add_argument("--colour", action="store_true", help="unusual: Fashion in colour")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-home", default=None, help="Fashion-MNIST's folder")
    parser.add_argument("--conv-norm", choices=list(NORMS), default="batchnorm")
    parser.add_argument("--front-channels", type=int, default=front_ends.FRONT_CHANNELS)
    parser.add_argument(
        "--params", type=json.loads, default={}, help="JSON of other CapsNetClassifier params"
    )
    args = parser.parse_args()

    use_conv_variant(args.conv_norm, args.front_channels)
    facts = machine("cuda" if torch.cuda.is_available() else "cpu")  # device="auto"

    def emit(record):
        print(json.dumps({"benchmark": "large_images", **record, **facts}), flush=True)

    tasks = {
        "fashion": fashion_task,
        "photos": photos_task,
        "gratings": gratings_task,
        "unusual": unusual_task,
    }
    for task in args.tasks:
        tasks[task](args, emit)


if __name__ == "__main__":
    main()
