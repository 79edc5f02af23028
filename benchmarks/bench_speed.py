"""Training and inference speed of the engine and the estimator; prints JSON lines.

Synthetic 28×28×1 images, 10 classes, the paper's network (8.2 M parameters). For each
batch size: images per second of a full training step (margin + reconstruction loss, Adam)
and of inference, for this package's engine and for a clean eager einsum CapsNet written
here independently (the in-run baseline), then ``fit`` and ``predict_proba`` end to end.

    python benchmarks/bench_speed.py --device cpu --batch-sizes 32 --steps 5 --samples 512
    python benchmarks/bench_speed.py --device cuda --batch-sizes 128 512 --steps 50 --samples 60000
"""

import argparse
import json
import platform
import time

import numpy as np
import torch
from torch import nn

from sklearn_capsnet import CapsNetClassifier
from sklearn_capsnet.nn import CapsNet, CapsuleLoss


class EagerEinsumCapsNet(nn.Module):
    """The baseline: the paper's network in plain eager PyTorch with einsum routing."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 256, 9)
        self.primary = nn.Conv2d(256, 256, 9, stride=2)
        self.W = nn.Parameter(0.01 * torch.randn(1152, 10, 16, 8))
        self.decoder = nn.Sequential(
            nn.Linear(160, 512), nn.ReLU(), nn.Linear(512, 1024), nn.ReLU(),
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
        mask = torch.nn.functional.one_hot(y, 10).unsqueeze(-1)
        return self.decoder((v * mask).flatten(1))


def _sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def images_per_second(model, device, batch, steps, train, precision=None):
    x = torch.rand(batch, 1, 28, 28, device=device)
    y = torch.randint(0, 10, (batch,), device=device)
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
    for _ in range(2):  # warm-up
        step()
    _sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    return batch * steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--samples", type=int, default=512, help="for fit/predict end to end")
    args = parser.parse_args()
    device = args.device
    info = {
        "device": device,
        "device_name": torch.cuda.get_device_name(0) if device.startswith("cuda") else "cpu",
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    for batch in args.batch_sizes:
        variants = (
            ("sklearn_capsnet", lambda: CapsNet((1, 28, 28), 10), None),
            ("sklearn_capsnet_bf16", lambda: CapsNet((1, 28, 28), 10), torch.bfloat16),
            ("eager_einsum_baseline", EagerEinsumCapsNet, None),
        )
        for name, factory, precision in variants:
            torch.manual_seed(0)
            model = factory().to(device)
            record = {"benchmark": "engine", "implementation": name, "batch_size": batch}
            for key, train in (("train_img_per_s", True), ("infer_img_per_s", False)):
                speed = images_per_second(model, device, batch, args.steps, train, precision)
                record[key] = round(speed)
            print(json.dumps({**record, **info}), flush=True)
        rng = np.random.default_rng(0)
        X = rng.integers(0, 256, (args.samples, 28, 28), dtype=np.uint8)
        y = rng.integers(0, 10, args.samples)
        for precision in ("no", "bf16"):
            clf = CapsNetClassifier(
                max_epochs=1, batch_size=batch, device=device, mixed_precision=precision,
                random_state=0,
            )  # fmt: skip
            start = time.perf_counter()
            clf.fit(X, y)
            fit_seconds = time.perf_counter() - start
            start = time.perf_counter()
            clf.predict_proba(X)
            predict_seconds = time.perf_counter() - start
            record = {
                "benchmark": "estimator",
                "mixed_precision": precision,
                "batch_size": batch,
                "samples": args.samples,
                "fit_img_per_s": round(args.samples / fit_seconds),
                "predict_img_per_s": round(args.samples / predict_seconds),
            }
            if device.startswith("cuda"):
                record["peak_gpu_memory_mb"] = round(torch.cuda.max_memory_allocated() / 2**20)
            print(json.dumps({**record, **info}), flush=True)


if __name__ == "__main__":
    main()
