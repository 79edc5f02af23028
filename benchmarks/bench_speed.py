"""Training and inference speed of the engine and the estimator; prints JSON lines.

Synthetic 28×28×1 uint8 images, the paper's network (8.2 M parameters for 10 classes).

- ``engine``: images per second of a full training step (margin + reconstruction
  loss, Adam) and of inference, for this package's engine (float32, bf16 autocast,
  optionally compiled) and for a clean eager einsum CapsNet written here
  independently: the in-run baseline.
- ``estimator``: ``CapsNetClassifier.fit`` (from a numpy array, default shift
  augmentation, ``--epochs`` epochs; the last epoch's rate is the steady state) and
  ``predict_proba`` end to end, with peak memory.
- ``scaling_samples``: fit and predict seconds per 1,000 images as the number of
  samples grows (``--scale-samples``); flat means no cost that grows with N.
- ``scaling_classes``: engine speed, ours and the baseline, as the number of classes
  grows (``--scale-classes``).
- ``defaults_vs_baseline`` (``--defaults-vs-baseline N ...``): ``CapsNetClassifier()``
  with every default but ``max_epochs=1``, ``fit`` then ``predict``, against the eager
  baseline trained the plain way (one epoch, shuffled batches of 32, Adam 1e-3, margin
  and reconstruction loss) and predicting in batches of 64, on the same N images,
  alternating, ``--repeats`` times; the ratio is baseline seconds over ours (issue 19).
- ``compiled_parts`` (``--compiled-parts``): steady-state training and inference speed
  with ``torch.compile`` on the parts outside the convolutions (routing, decoder, loss)
  against eager, and the seconds the first compiled step takes.

    python benchmarks/bench_speed.py --device cpu --batch-sizes 32 --steps 5 --samples 256
    python benchmarks/bench_speed.py --device cpu --skip engine estimator \
        --defaults-vs-baseline 256 2048 --repeats 3 --compiled-parts
    python benchmarks/bench_speed.py --device cuda --batch-sizes 128 512 --steps 50 \\
        --samples 60000 --compile --scale-samples 10000 30000 60000 --scale-classes 10 100
"""

import argparse
import json
import resource
import time

import numpy as np
import torch
from environment import machine
from torch import nn

from sklearn_capsnet import CapsNetClassifier
from sklearn_capsnet.nn import CapsNet, CapsuleLoss


class EagerEinsumCapsNet(nn.Module):
    """The baseline: the paper's network in plain eager PyTorch with einsum routing."""

    def __init__(self, n_classes=10):
        super().__init__()
        self.n_classes = n_classes
        self.conv = nn.Conv2d(1, 256, 9)
        self.primary = nn.Conv2d(256, 256, 9, stride=2)
        self.W = nn.Parameter(0.01 * torch.randn(1152, n_classes, 16, 8))
        self.decoder = nn.Sequential(
            nn.Linear(16 * n_classes, 512), nn.ReLU(), nn.Linear(512, 1024), nn.ReLU(),
            nn.Linear(1024, 784), nn.Sigmoid(),
        )  # fmt: skip

    @staticmethod
    def squash(s):
        n2 = (s * s).sum(-1, keepdim=True)
        return n2 / (1 + n2) * s / torch.sqrt(n2 + 1e-9)

    def forward(self, x):
        u = self.primary(torch.relu(self.conv(x)))  # [B, 256, 6, 6]
        u = u.view(len(x), 32, 8, 6, 6).permute(0, 1, 3, 4, 2).reshape(len(x), 1152, 8)
        u_hat = torch.einsum("ijdp,bip->bijd", self.W, self.squash(u))
        b = torch.zeros(u_hat.shape[:3], device=x.device)
        for r in range(3):
            c = b.softmax(dim=2)
            v = self.squash(torch.einsum("bij,bijd->bjd", c, u_hat))
            if r < 2:
                b = b + torch.einsum("bijd,bjd->bij", u_hat, v)
        return v

    def reconstruct(self, v, y):
        mask = torch.nn.functional.one_hot(y, self.n_classes).unsqueeze(-1)
        return self.decoder((v * mask).flatten(1))


def _sync(device):
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def images_per_second(model, device, batch, steps, train, n_classes=10, precision=None):
    """Images per second of ``steps`` training steps (or inference passes) after warm-up."""
    x = torch.rand(batch, 1, 28, 28, device=device)
    y = torch.randint(0, n_classes, (batch,), device=device)
    loss_fn = CapsuleLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def forward():
        with torch.autocast(x.device.type, torch.bfloat16, enabled=precision is not None):
            return model(x).float()

    def step():
        if train:
            optimizer.zero_grad(set_to_none=True)
            v = forward()
            loss_fn(v, y, model.reconstruct(v, y), x).backward()
            optimizer.step()
        else:
            with torch.inference_mode():
                forward()

    model.train(train)
    for _ in range(3):  # warm-up (and compilation)
        step()
    _sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    return batch * steps / (time.perf_counter() - start)


def engine_variants(n_classes, compile_):
    """(name, model factory, autocast dtype) of everything the engine benchmark times."""
    ours = lambda: CapsNet((1, 28, 28), n_classes)  # noqa: E731
    variants = [
        ("sklearn_capsnet", ours, None),
        ("sklearn_capsnet_bf16", ours, torch.bfloat16),
        ("eager_einsum_baseline", lambda: EagerEinsumCapsNet(n_classes), None),
    ]
    if compile_:

        def compiled():
            return torch.compile(CapsNet((1, 28, 28), n_classes, memory_format="channels_last"))

        variants.append(("sklearn_capsnet_compiled_bf16_channels_last", compiled, torch.bfloat16))
    return variants


def time_engine(device, batch, steps, n_classes=10, compile_=False):
    """One JSON record per engine variant, with the speed-up over the baseline."""
    records = []
    for name, factory, precision in engine_variants(n_classes, compile_):
        torch.manual_seed(0)
        model = factory().to(device)
        record = {"implementation": name, "batch_size": batch, "n_classes": n_classes}
        for key, train in (("train_img_per_s", True), ("infer_img_per_s", False)):
            speed = images_per_second(model, device, batch, steps, train, n_classes, precision)
            record[key] = round(speed)
        records.append(record)
    baseline = next(r for r in records if r["implementation"] == "eager_einsum_baseline")
    for record in records:
        for key in ("train_img_per_s", "infer_img_per_s"):
            record[key.replace("img_per_s", "vs_baseline")] = round(record[key] / baseline[key], 2)
    return records


def peak_memory_mb(device) -> dict:
    if str(device).startswith("cuda"):
        return {"peak_gpu_memory_mb": round(torch.cuda.max_memory_allocated() / 2**20)}
    return {"peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def time_estimator(X, y, device, batch, epochs, **params):
    """fit (total and last epoch) and predict_proba images per second, end to end."""
    if str(device).startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    clf = CapsNetClassifier(
        max_epochs=epochs, batch_size=batch, device=device, random_state=0, **params
    )
    start = time.perf_counter()
    clf.fit(X, y)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    clf.predict_proba(X)
    _sync(device)
    predict_seconds = time.perf_counter() - start
    last_epoch = clf.history_[-1, "dur"]
    return {
        "batch_size": batch,
        "samples": len(X),
        "epochs": epochs,
        "precision": str(clf.net_.precision),
        "fit_seconds": round(fit_seconds, 3),
        "fit_img_per_s": round(epochs * len(X) / fit_seconds),
        "last_epoch_img_per_s": round(len(X) / last_epoch),
        "predict_seconds": round(predict_seconds, 3),
        "predict_img_per_s": round(len(X) / predict_seconds),
        **peak_memory_mb(device),
    }


def baseline_fit_predict(X, y, device, seed=0):
    """Seconds of one plain epoch (batches of 32) and of prediction (batches of 64)."""
    torch.manual_seed(seed)
    model = EagerEinsumCapsNet(int(y.max()) + 1).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = CapsuleLoss()
    start = time.perf_counter()
    images = torch.as_tensor(X, device=device).float().div(255).unsqueeze(1)
    labels = torch.as_tensor(y, device=device)
    order = torch.randperm(len(X), device=device)
    for first in range(0, len(X), 32):
        index = order[first : first + 32]
        x, target = images[index], labels[index]
        optimizer.zero_grad(set_to_none=True)
        v = model(x)
        loss_fn(v, target, model.reconstruct(v, target), x.flatten(1)).backward()
        optimizer.step()
    _sync(device)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    model.eval()
    with torch.inference_mode():
        images = torch.as_tensor(X, device=device).float().div(255).unsqueeze(1)
        lengths = [model(images[k : k + 64]).norm(dim=-1) for k in range(0, len(X), 64)]
        torch.cat(lengths).argmax(dim=1).cpu()
    return fit_seconds, time.perf_counter() - start


def defaults_fit_predict(X, y, device):
    """Seconds of ``CapsNetClassifier(max_epochs=1).fit`` and of ``predict``."""
    clf = CapsNetClassifier(max_epochs=1, device=device, random_state=0)
    start = time.perf_counter()
    clf.fit(X, y)
    _sync(device)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    clf.predict(X)
    return fit_seconds, time.perf_counter() - start, str(clf.net_.precision)


def time_defaults_vs_baseline(n, device, repeats):
    """Ours with defaults against the baseline loop, alternating; medians and ratios."""
    X, y = synthetic(n)
    baseline_fit_predict(X[:64], y[:64], device)  # warm-up of both (first-call costs)
    defaults_fit_predict(X[:64], y[:64], device)
    runs = {"baseline": [], "defaults": []}
    for _ in range(repeats):
        runs["baseline"].append(baseline_fit_predict(X, y, device))
        fit_seconds, predict_seconds, precision = defaults_fit_predict(X, y, device)
        runs["defaults"].append((fit_seconds, predict_seconds))
    medians = {name: np.median(np.array(times), axis=0) for name, times in runs.items()}
    return {
        "samples": n,
        "repeats": repeats,
        "precision": precision,
        "baseline_fit_s": [round(t[0], 2) for t in runs["baseline"]],
        "defaults_fit_s": [round(t[0], 2) for t in runs["defaults"]],
        "baseline_predict_s": [round(t[1], 2) for t in runs["baseline"]],
        "defaults_predict_s": [round(t[1], 2) for t in runs["defaults"]],
        "fit_speedup": round(medians["baseline"][0] / medians["defaults"][0], 2),
        "predict_speedup": round(medians["baseline"][1] / medians["defaults"][1], 2),
    }


def time_compiled_parts(device, batch, steps, precision):
    """Eager against routing, decoder and loss compiled (``torch.compile``), convolutions eager."""
    return [_time_parts(compiled, device, batch, steps, precision) for compiled in (False, True)]


def _time_parts(compiled, device, batch, steps, precision):
    torch.manual_seed(0)
    torch._dynamo.reset()
    model = CapsNet((1, 28, 28), 10).to(device)
    loss_fn = CapsuleLoss()
    if compiled:
        model.classes.routing = torch.compile(model.classes.routing, dynamic=False)
        model.decoder = torch.compile(model.decoder, dynamic=False)
        loss_fn = torch.compile(loss_fn, dynamic=False)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(batch, 1, 28, 28, device=device)
    y = torch.randint(0, 10, (batch,), device=device)

    def step(train):
        with torch.autocast(x.device.type, torch.bfloat16, enabled=precision is not None):
            if train:
                optimizer.zero_grad(set_to_none=True)
                v = model(x).float()
                loss_fn(v, y, model.reconstruct(v, y).float(), x.flatten(1)).backward()
                optimizer.step()
            else:
                with torch.inference_mode():
                    model(x)

    record = {"compiled": compiled, "batch_size": batch, "precision": str(precision)}
    for key, train in (("train", True), ("infer", False)):
        model.train(train)
        start = time.perf_counter()
        step(train)  # the first step compiles
        _sync(device)
        record[f"first_{key}_step_s"] = round(time.perf_counter() - start, 2)
        step(train)
        _sync(device)
        start = time.perf_counter()
        for _ in range(steps):
            step(train)
        _sync(device)
        record[f"{key}_img_per_s"] = round(batch * steps / (time.perf_counter() - start))
    return record


def synthetic(n, n_classes=10, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, n_classes, n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32])
    parser.add_argument("--steps", type=int, default=5, help="timed steps per engine variant")
    parser.add_argument("--samples", type=int, default=512, help="for fit/predict end to end")
    parser.add_argument("--epochs", type=int, default=2, help="of fit end to end")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile")
    parser.add_argument("--scale-samples", type=int, nargs="*", default=[])
    parser.add_argument("--scale-classes", type=int, nargs="*", default=[])
    parser.add_argument(
        "--scale-params", default="{}", help="JSON CapsNetClassifier params of the N scaling"
    )
    parser.add_argument("--skip", nargs="*", default=[], choices=["engine", "estimator"])
    parser.add_argument("--defaults-vs-baseline", type=int, nargs="*", default=[])
    parser.add_argument("--repeats", type=int, default=3, help="of --defaults-vs-baseline")
    parser.add_argument("--compiled-parts", action="store_true")
    args = parser.parse_args()
    device, info = args.device, machine(args.device)

    def emit(benchmark, record):
        print(json.dumps({"benchmark": benchmark, **record, **info}), flush=True)

    for batch in args.batch_sizes:
        if "engine" not in args.skip:
            for record in time_engine(device, batch, args.steps, compile_=args.compile):
                emit("engine", record)
        if "estimator" not in args.skip:
            X, y = synthetic(args.samples)
            for precision in ("no", "bf16"):
                record = time_estimator(
                    X, y, device, batch, args.epochs, mixed_precision=precision
                )
                emit("estimator", record)
    batch = args.batch_sizes[-1]
    if args.scale_samples:
        params = json.loads(args.scale_params)
        time_estimator(*synthetic(max(1000, batch)), device, batch, 1, **params)  # warm-up
        for n in args.scale_samples:
            record = time_estimator(*synthetic(n), device, batch, 1, **params)
            record["fit_s_per_1000"] = round(1000 * record["fit_seconds"] / n, 4)
            record["predict_s_per_1000"] = round(1000 * record["predict_seconds"] / n, 4)
            emit("scaling_samples", {**record, "params": params})
    for n_classes in args.scale_classes:
        for record in time_engine(device, batch, args.steps, n_classes=n_classes):
            emit("scaling_classes", record)
    for n in args.defaults_vs_baseline:
        emit("defaults_vs_baseline", time_defaults_vs_baseline(n, device, args.repeats))
    if args.compiled_parts:
        for precision in (None, torch.bfloat16):
            for record in time_compiled_parts(device, batch, args.steps, precision):
                emit("compiled_parts", record)


if __name__ == "__main__":
    main()
