"""New viewpoints: the paper's affNIST test, CapsNet against a CNN of its size; prints JSON lines.

Sabour et al. (2017), section 5.2: trained only on digits placed at random on a 40×40
canvas, tested on affNIST (small random rotations, shears, scalings and translations),
both models stopped at the same accuracy on held-out placed digits. Here, for
Fashion-MNIST and for scikit-learn's digits (8×8, enlarged 2.5× and centred on 28×28 as
MNIST's digits are), per seed:

1. the images are split into training, held-out placed, affine validation and affine
   test sets (the test set from the official test images where there is one);
   training and held-out images are placed on the canvas
   (:func:`~sklearn_capsnet.datasets.place_on_canvas`; the training images anew each
   epoch, the same for every model), the two affine sets are made by
   :func:`~sklearn_capsnet.datasets.make_affine` with affNIST's ranges;
2. the default CapsNet (``CapsNetClassifier``) and the translation study's CNN
   (``bench_translation.PlainCNN``, its dense layer sized to the CapsNet's parameter
   count, decoder included, a skorch ``NeuralNetClassifier``) train one epoch at a time
   with the same batch size, Adam, learning-rate decay and ±``shift``-pixel shifts; after
   each epoch both are scored on the held-out placed and the affine validation sets;
   each model trains until its held-out placed accuracy has not risen for ``--patience``
   epochs (the ``--cpu`` run: a fixed 8 epochs) or ``--max-epochs`` are done; with
   ``--until-decided`` (the ``--plateau`` and full runs) the CNN trains first and each
   CapsNet stops as soon as its held-out accuracy reaches the CNN's best: that best is
   then the accuracy both reach, so later epochs could not change the comparison;
3. each model is taken back to the first epoch whose held-out placed accuracy reaches the
   highest accuracy both models reach ("the same accuracy"), and scored there on the
   affine test set and on each transform alone at several strengths: rotation by ±angle,
   shear by ±factor, both axes scaled, each about the canvas's centre (where training
   placed images too), and translation alone (up to ±t pixels along each axis).

``--variants`` adds CapsNet variants (JSON: name -> CapsNetClassifier parameters), each
matched against the same CNN; pick among them on ``affine_validation`` only. ``--params``
(JSON) changes the base of every CapsNet, the CNN sized to match (the tests use a small
network; the benchmark's question is the default's).

    python benchmarks/bench_viewpoints.py                        # GPU: the full run
    python benchmarks/bench_viewpoints.py --cpu                  # 34 min on 2 cores, measured
                                                                 # beside another run
    OMP_NUM_THREADS=1 python benchmarks/bench_viewpoints.py --plateau --datasets fashion \
        --processes 3     # the three seeds side by side: 6,000 images, each model trained
                          # until its held-out accuracy stops rising (at most 12 epochs)
                          # or, a CapsNet, reaches the CNN's best; 93 min on 2 cores
                          # before --until-decided (three processes by hand)

One line per model, seed and dataset, then one summary line per dataset (mean and
standard deviation over seeds) on stdout; a line per model and epoch on stderr while it
runs. Needs the Fashion-MNIST IDX files for ``fashion``.
"""

import argparse
import copy
import json
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import torch
from bench_translation import PlainCNN, cnn_hidden_for
from environment import machine
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from skorch import NeuralNetClassifier
from skorch.callbacks import LRScheduler
from torch import nn

from sklearn_capsnet import CapsNetClassifier
from sklearn_capsnet.datasets import load_fashion_mnist, make_affine, place_on_canvas

CANVAS = 40
STRENGTHS = {  # each transform alone; 0 / 1 is the image at the canvas's centre
    "rotation": [0, 10, 20, 30, 45],  # degrees, either way (affNIST: up to 20)
    "shear": [0, 0.15, 0.3, 0.45],  # either way (affNIST: up to 0.2)
    "scale": [0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3],  # both axes (affNIST: 0.8 to 1.2 each)
    "translation": [0, 4, 8, 12],  # pixels along each axis, up to (training: up to 6)
}
IDENTITY = {"rotation": 0, "shear": 0, "scale": 1, "translation": 0}


def stream(seed: int, *purpose: int) -> int:
    """A seed of its own for each use of the run's ``seed`` (placements, sets, curves)."""
    return int(np.random.SeedSequence([seed, *purpose]).generate_state(1)[0])


def digits_like_mnist() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8×8 digits as MNIST's: enlarged 2.5× (bilinear, 8 pixels to 20) and
    centred on a 28×28 frame, uint8."""
    X, y = load_digits(return_X_y=True)
    small = np.round(X.reshape(-1, 8, 8) * (255 / 16)).astype(np.uint8)
    big = make_affine(small, 28, rotation=0, shear=0, scale=2.5, translation=0)
    return big, y.astype(np.int64)


def split(dataset: str, sizes: dict, seed: int, data_home=None) -> dict:
    """Images [n, 28, 28] uint8 and labels for train, held_out, validation and test."""
    rng = np.random.RandomState(seed)
    if dataset == "fashion":
        X, y = load_fashion_mnist(data_home=data_home, return_X_y=True)
        X_test, y_test = load_fashion_mnist(data_home=data_home, subset="test", return_X_y=True)
        X, X_test = X.reshape(-1, 28, 28), X_test.reshape(-1, 28, 28)
        pick = rng.permutation(len(X))
        parts, start = {}, 0
        for name in ("train", "held_out", "validation"):
            chosen = pick[start : start + sizes[name]]
            parts[name], start = (X[chosen], y[chosen]), start + sizes[name]
        test = rng.permutation(len(X_test))[: sizes["test"]]
        parts["test"] = (X_test[test], y_test[test])
        return parts
    X, y = digits_like_mnist()
    rest, X_test, rest_y, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=seed
    )
    X_train, X_other, y_train, y_other = train_test_split(
        rest, rest_y, test_size=0.3, stratify=rest_y, random_state=seed
    )
    X_held, X_val, y_held, y_val = train_test_split(
        X_other, y_other, test_size=0.5, stratify=y_other, random_state=seed
    )
    return {
        "train": (X_train, y_train),
        "held_out": (X_held, y_held),
        "validation": (X_val, y_val),
        "test": (X_test, y_test),
    }


def signed(images, kind: str, strength: float, seed: int) -> np.ndarray:
    """``images`` on the canvas under one transform at one strength, nothing else: turned or
    sheared by +strength (first half) or -strength (second half), or scaled, about the
    canvas's centre; or moved by up to ``strength`` pixels along each axis."""
    values = dict(IDENTITY)
    if kind in ("scale", "translation"):
        values[kind] = strength
        return make_affine(images, CANVAS, **values, random_state=seed)
    half = len(images) // 2
    values[kind] = (strength, strength)
    first = make_affine(images[:half], CANVAS, **values, random_state=seed)
    values[kind] = (-strength, -strength)
    return np.concatenate([first, make_affine(images[half:], CANVAS, **values)])


class Model:
    """One classifier trained one epoch at a time, with a copy of its weights at each epoch.

    ``net`` gives the skorch net (its ``module_`` and ``optimizer_``), ``feed`` turns the
    uint8 canvases into what the estimator reads.
    """

    def __init__(self, name, estimator, net, feed):
        self.name, self.estimator, self.net, self.feed = name, estimator, net, feed
        self.epochs, self.states, self.seconds = [], [], 0.0

    def train_epoch(self, X, y, classes):
        start = time.perf_counter()
        self.estimator.partial_fit(self.feed(X), y, classes=classes)
        self.seconds += time.perf_counter() - start
        self.states.append(copy.deepcopy(self.net().module_.state_dict()))

    @property
    def lr(self) -> float:
        """The learning rate the next epoch trains at."""
        return float(self.net().optimizer_.param_groups[0]["lr"])

    def accuracy(self, X, y) -> float:
        return float(np.mean(self.estimator.predict(self.feed(X)) == y))

    def at_epoch(self, epoch: int, held_out) -> None:
        """Back to the weights after ``epoch``, checked on the held-out set scored then."""
        self.net().module_.load_state_dict(self.states[epoch - 1])
        again, recorded = self.accuracy(*held_out), self.epochs[epoch - 1]["held_out"]
        if again != recorded:
            raise RuntimeError(
                f"{self.name}: epoch {epoch} restored scores {again}, not {recorded}"
            )

    def n_parameters(self, decoder: bool = True) -> int:
        return sum(
            p.numel()
            for name, p in self.net().module_.named_parameters()
            if decoder or not name.startswith("decoder.")
        )


def make_capsnet(name, params, args, seed):
    capsnet = CapsNetClassifier(
        batch_size=args.batch_size, lr=args.lr, lr_decay=args.lr_decay, shift=args.shift,
        random_state=seed, **params,
    )  # fmt: skip
    return Model(name, capsnet, lambda: capsnet.net_, lambda X: X)


def make_cnn(n_parameters, n_classes, args, seed, device):
    torch.manual_seed(seed)
    shape = (1, CANVAS, CANVAS)
    cnn = NeuralNetClassifier(
        PlainCNN,
        module__shift=args.shift,
        module__hidden=cnn_hidden_for(n_parameters, shape, n_classes),
        module__input_shape=shape,
        module__n_classes=n_classes,
        criterion=nn.CrossEntropyLoss,  # the module returns logits
        optimizer=torch.optim.Adam,
        callbacks=[LRScheduler(torch.optim.lr_scheduler.ExponentialLR, gamma=args.lr_decay)],
        iterator_train__shuffle=True,
        train_split=None,
        max_epochs=1,
        batch_size=args.batch_size,
        lr=args.lr,
        device=device,
        verbose=0,
    )

    def feed(X):  # the CapsNet reads uint8 itself; the CNN is fed [0, 1] floats
        return (np.asarray(X, np.float32) / 255.0).reshape(-1, *shape)

    return Model("cnn", cnn, lambda: cnn, feed)


def same_accuracy(*histories) -> tuple[float, list[int]]:
    """The highest held-out placed accuracy every history reaches, and for each history
    the first epoch that reaches it (epochs as ``{"epoch": k, "held_out": accuracy}``)."""
    target = min(max(e["held_out"] for e in history) for history in histories)
    first = [next(e["epoch"] for e in h if e["held_out"] >= target) for h in histories]
    return target, first


def stopped_rising(history, patience: int) -> bool:
    """Whether the held-out placed accuracy has not risen above its best for the last
    ``patience`` epochs (never, with a ``patience`` of 0: a fixed number of epochs)."""
    if patience <= 0 or len(history) <= patience:
        return False
    best_before = max(e["held_out"] for e in history[:-patience])
    return all(e["held_out"] <= best_before for e in history[-patience:])


def why_stopped(history, patience: int, max_epochs: int, reach=None) -> str | None:
    """Why a model trains no further after the epochs of ``history`` (None: it goes on):
    ``"stopped rising"`` (:func:`stopped_rising`), ``"reached"`` (its held-out placed
    accuracy reached ``reach``, the CNN's best, which makes the CNN's best the highest
    accuracy both reach: more epochs cannot change the comparison) or ``"the cap"``
    (``max_epochs`` done)."""
    if stopped_rising(history, patience):
        return "stopped rising"
    if reach is not None and history and history[-1]["held_out"] >= reach:
        return "reached"
    if len(history) >= max_epochs:
        return "the cap"
    return None


def reached_last(stops, histories, reasons) -> bool:
    """Whether a model first reached the shared target at the last epoch it trained, so
    that it may still have been rising, unless it stopped there because it reached the
    CNN's best (``reasons``: each model's :func:`why_stopped`)."""
    return any(
        stop == len(history) and reason != "reached"
        for stop, history, reason in zip(stops, histories, reasons, strict=True)
    )


def progress(dataset: str, seed: int, model) -> str:
    """One line on the epoch ``model`` has just trained, for stderr while a run goes on."""
    last = model.epochs[-1]
    return (
        f"{dataset} seed {seed} {model.name} epoch {last['epoch']}: held-out placed "
        f"{last['held_out']:.3f}, affine validation {last['affine_validation']:.3f} "
        f"({model.seconds:.0f} s training)"
    )


def run_seed(dataset, seed, args, device, info, emit=None):
    sizes = {**SIZES[args.size][dataset], **json.loads(args.sizes)} if dataset == "fashion" else {}
    data = split(dataset, sizes, seed, args.data_home)
    X_train, y_train = data["train"]
    classes = np.unique(y_train)
    sets = {  # scored after every epoch
        "held_out": (place_on_canvas(data["held_out"][0], CANVAS, random_state=stream(seed, 1)),
                     data["held_out"][1]),
        "affine_validation": (make_affine(data["validation"][0], CANVAS,
                                          random_state=stream(seed, 2)), data["validation"][1]),
    }  # fmt: skip
    test = (make_affine(data["test"][0], CANVAS, random_state=stream(seed, 3)), data["test"][1])
    curves = {
        kind: [signed(data["test"][0], kind, s, stream(seed, 4, i)) for i, s in enumerate(values)]
        for kind, values in STRENGTHS.items()
    }
    placements = {}

    def placed(epoch):  # each epoch places the training images anew, the same for all models
        if epoch not in placements:
            placements[epoch] = place_on_canvas(
                X_train, CANVAS, random_state=stream(seed, 0, epoch)
            )
        return placements[epoch]

    def train(model, epochs=None, reach=None):
        """Train ``model`` on from its last epoch until :func:`why_stopped` says why not
        further, or for ``epochs`` more (``None``: no such limit)."""
        for _ in range(args.max_epochs if epochs is None else epochs):
            if why_stopped(model.epochs, args.patience, args.max_epochs, reach):
                break
            epoch = len(model.epochs) + 1
            lr = model.lr if epoch > 1 else args.lr
            model.train_epoch(placed(epoch), y_train, classes)
            scores = {key: model.accuracy(*xy) for key, xy in sets.items()}
            model.epochs.append({"epoch": epoch, "lr": lr, **scores})
            print(progress(dataset, seed, model), file=sys.stderr, flush=True)
        return model

    variants = json.loads(args.variants)
    base = json.loads(args.params)
    capsnet = make_capsnet("capsnet", base, args, seed)
    if args.until_decided:  # one epoch builds the CapsNet, whose size sizes the CNN
        train(capsnet, epochs=1)
        cnn = train(make_cnn(capsnet.n_parameters(), len(classes), args, seed, device))
        reach = max(e["held_out"] for e in cnn.epochs)  # then a CapsNet reaching it decides
    else:
        train(capsnet)
        cnn = train(make_cnn(capsnet.n_parameters(), len(classes), args, seed, device))
        reach = None
    train(capsnet, reach=reach)
    config = {**vars(args), "canvas": CANVAS, "cnn_hidden": cnn.estimator.module__hidden}
    records = []
    for name, params in {"capsnet": {}, **variants}.items():
        model = (
            capsnet
            if name == "capsnet"
            else train(make_capsnet(name, {**base, **params}, args, seed), reach=reach)
        )
        target, stops = same_accuracy(model.epochs, cnn.epochs)
        why = [why_stopped(m.epochs, args.patience, args.max_epochs, r)  # once per model
               for m, r in ((model, reach), (cnn, None))]  # fmt: skip
        reached = {}
        for each, epoch in zip((model, cnn), stops, strict=True):
            each.at_epoch(epoch, sets["held_out"])
            reached[each.name] = {**each.epochs[epoch - 1], "affine_test": each.accuracy(*test)}
            if name == "capsnet":  # the curves: the default CapsNet and the CNN
                reached[each.name]["by_strength"] = {
                    kind: dict(zip(map(str, STRENGTHS[kind]),
                                   (each.accuracy(X, data["test"][1]) for X in curves[kind]),
                                   strict=True))
                    for kind in STRENGTHS
                }  # fmt: skip
        for each in (model, cnn) if name == "capsnet" else (model,):
            mine = reached[each.name]
            record = {
                "benchmark": "viewpoints",
                "dataset": dataset,
                "seed": seed,
                "model": each.name,
                "capsnet_params": {**base, **params} if each is model else None,
                "precision": str(getattr(each.net(), "precision", None) or "float32"),
                "n_parameters": each.n_parameters(),
                "n_parameters_without_decoder": each.n_parameters(decoder=False),
                "sizes": {k: len(v[1]) for k, v in data.items()},
                "target_held_out": target,
                "stopped_at_epoch": mine["epoch"],
                "target_first_reached_at_the_last_epoch": reached_last(
                    stops, (model.epochs, cnn.epochs), why
                ),
                "epochs_trained": len(each.epochs),
                "stopped_rising": stopped_rising(each.epochs, args.patience),
                "stopped_because": why[0] if each is model else why[1],
                **{k: v for k, v in mine.items() if k not in ("epoch", "lr")},
                "cnn_at_same_target": (
                    {k: v for k, v in reached["cnn"].items() if k != "by_strength"}
                    if each is model
                    else None
                ),
                "fit_seconds": round(each.seconds, 1),
                "epochs": each.epochs,
                "config": config,
            }
            records.append({**record, **info})
            if emit is not None:  # as each is made: a later crash keeps the earlier ones
                emit(records[-1])
    return records


SIZES = {  # per dataset: images in each part
    "cpu": {
        "fashion": {"train": 2000, "held_out": 500, "validation": 500, "test": 500},
        "digits": {},  # all 1,797: 25 % test, of the rest 70 % training, 15 % + 15 %
    },
    "plateau": {  # CPU, until the held-out accuracy stops rising: 3 processes, 93 min
        "fashion": {"train": 6000, "held_out": 1000, "validation": 1000, "test": 1000},
        "digits": {},
    },
    "full": {
        "fashion": {"train": 50000, "held_out": 5000, "validation": 5000, "test": 10000},
        "digits": {},
    },
}


def summary(dataset, records):
    """Mean, standard deviation and per-seed values of each model's matched scores."""
    out = {"benchmark": "viewpoints_summary", "dataset": dataset}
    for model in dict.fromkeys(r["model"] for r in records):
        mine = [r for r in records if r["model"] == model]
        stats = {}
        for key in ("held_out", "affine_validation", "affine_test"):
            stats[key] = _spread([r[key] for r in mine])
        if mine[0]["cnn_at_same_target"] is not None:
            cnn = [r["cnn_at_same_target"]["affine_test"] for r in mine]
            stats["cnn_affine_test"] = _spread(cnn)
            stats["minus_cnn_affine_test"] = _spread(  # paired: same data, seed and target
                [r["affine_test"] - c for r, c in zip(mine, cnn, strict=True)]
            )
        if "by_strength" in mine[0]:
            stats["by_strength"] = {
                kind: {s: _spread([r["by_strength"][kind][s] for r in mine]) for s in strengths}
                for kind, strengths in mine[0]["by_strength"].items()
            }
        out[model] = stats
    capsnets = [m for m in out if isinstance(out[m], dict) and m != "cnn"]
    out["chosen_on_validation"] = max(
        capsnets, key=lambda m: out[m]["affine_validation"]["mean"]
    )  # the test set plays no part in the choice
    return out


def _spread(values) -> dict:
    values = np.asarray(values, dtype=float)
    std = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    return {"mean": float(values.mean()), "std": std, "per_seed": values.tolist()}


PRESETS = {  # per run size: what --max-epochs, --patience, --batch-size, --until-decided are
    "cpu": {"max_epochs": 8, "patience": 0, "batch_size": 64, "until_decided": False},
    "plateau": {"max_epochs": 12, "patience": 2, "batch_size": 64, "until_decided": True},
    "full": {"max_epochs": 30, "patience": 3, "batch_size": 128, "until_decided": True},
}


def parse_args(argv=None) -> argparse.Namespace:
    """The command line, with each unset number taken from the run size's :data:`PRESETS`."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--datasets", nargs="+", default=["fashion", "digits"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--cpu", action="store_const", dest="size", const="cpu", default="full")
    parser.add_argument(
        "--plateau", action="store_const", dest="size", const="plateau",
        help="CPU, trained until the held-out accuracy stops rising: 6,000 Fashion-MNIST images",
    )  # fmt: skip
    parser.add_argument(
        "--max-epochs", type=int, default=None, help="cpu: 8, plateau: 12, full: 30"
    )
    parser.add_argument(
        "--patience", type=int, default=None,
        help="stop a model once its held-out accuracy has not risen for this many epochs "
        "(0: never); cpu: 0, plateau: 2, full: 3",
    )  # fmt: skip
    parser.add_argument(
        "--batch-size", type=int, default=None, help="cpu and plateau: 64, full: 128"
    )
    parser.add_argument(
        "--until-decided", action=argparse.BooleanOptionalAction, default=None,
        help="train the CNN first, then each CapsNet only until its held-out accuracy "
        "reaches the CNN's best (or stops rising): later epochs cannot change the "
        "comparison; cpu: no, plateau and full: yes",
    )  # fmt: skip
    parser.add_argument(
        "--processes", type=int, default=1,
        help="run the seeds side by side in this many worker processes, one torch thread "
        "each (the CPU runs: 3 seeds, --processes 3 on 2 cores)",
    )  # fmt: skip
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--lr-decay", type=float, default=0.95)
    parser.add_argument("--shift", type=int, default=2, help="training shifts, both models")
    parser.add_argument("--variants", default="{}", help="JSON: name -> CapsNet params")
    parser.add_argument("--params", default="{}", help="JSON: the base of every CapsNet")
    parser.add_argument("--sizes", default="{}", help="JSON: fashion part -> images")
    parser.add_argument("--data-home", default=None)
    args = parser.parse_args(argv)
    shared = {"batch_size", "lr", "lr_decay", "shift", "random_state"}  # both models': flags
    for name, params in {"--params": args.params, "--variants": args.variants}.items():
        values = json.loads(params)
        keys = set(values) if name == "--params" else set().union(*values.values(), set())
        if keys & shared:
            parser.error(
                f"{name} sets {sorted(keys & shared)}, which the CapsNet and the CNN share: "
                "use --batch-size, --lr, --lr-decay, --shift or --seeds instead."
            )
    for key, value in PRESETS[args.size].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def _one_thread() -> None:
    torch.set_num_threads(1)  # a worker process: the cores are shared out by process


def seed_runs(dataset, args, device, info):
    """Each seed's records, seed by seed, each printed: in this process as it is made, or
    with ``--processes`` above 1 in that many worker processes of one torch thread each,
    the seeds side by side, printed as each seed's worker returns them."""
    if args.processes <= 1:
        for seed in args.seeds:
            yield run_seed(dataset, seed, args, device, info, emit=_print)
        return
    context = multiprocessing.get_context("spawn")  # a fresh torch in each worker
    with ProcessPoolExecutor(args.processes, context, initializer=_one_thread) as pool:
        runs = [pool.submit(run_seed, dataset, s, args, device, info) for s in args.seeds]
        for run in runs:
            records = run.result()
            for record in records:
                _print(record)
            yield records


def _print(record: dict) -> None:
    print(json.dumps(record), flush=True)


def main() -> None:
    args = parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    info = machine(device)
    for dataset in args.datasets:
        records = []
        for seed_records in seed_runs(dataset, args, device, info):  # each line printed
            records += seed_records
        print(json.dumps({**summary(dataset, records), **info}), flush=True)


if __name__ == "__main__":
    main()
