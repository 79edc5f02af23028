"""How often a bf16 training step on the CPU gives non-finite gradients; prints JSON lines.

Trains the engine directly (no skorch) under CPU bf16 autocast on random data and
counts the steps whose gradients are not all finite; such a step is skipped, not
applied. This is what found oneDNN's bf16 convolution occasionally returning NaN
weight gradients from finite inputs, the reason ``mixed_precision="auto"`` stays
float32 on CPUs and the trainer recomputes such a step in float32.

    python benchmarks/bench_bf16_gradients.py --input-shape 10 1 1 --steps 4000 --repeats 3
    python benchmarks/bench_bf16_gradients.py --input-shape 10 1 1 --steps 4000 --no-mkldnn
    python benchmarks/bench_bf16_gradients.py --input-shape 1 8 8 --steps 3000
"""

import argparse
import json
import time

import torch
from environment import machine

from sklearn_capsnet._testing import TINY_NETWORK
from sklearn_capsnet.nn import CapsNet, CapsuleLoss

# the tests' tiny network (as a table, where the NaN gradients first showed)
TINY = TINY_NETWORK


def count_nonfinite_steps(input_shape, steps, seed, tiny) -> dict:
    torch.manual_seed(seed)
    n_classes = 2 if tiny else 10
    model = CapsNet(tuple(input_shape), n_classes, **(TINY if tiny else {}))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01 if tiny else 1e-3)
    loss_fn = CapsuleLoss()
    X = torch.rand(512, *input_shape)
    y = torch.randint(0, n_classes, (512,))
    bad, where = 0, {}
    start = time.perf_counter()
    for _ in range(steps):
        index = torch.randperm(512)[:32]
        x, target = X[index], y[index]
        with torch.autocast("cpu", dtype=torch.bfloat16):
            capsules = model(x).float()
        loss = loss_fn(capsules, target, model.reconstruct(capsules, target), x)
        optimizer.zero_grad()
        loss.backward()
        nonfinite = [
            name for name, p in model.named_parameters()
            if p.grad is not None and not torch.isfinite(p.grad).all()
        ]  # fmt: skip
        if nonfinite:
            bad += 1
            for name in nonfinite:
                where[name] = where.get(name, 0) + 1
            continue
        optimizer.step()
    return {
        "steps": steps,
        "nonfinite_steps": bad,
        "nonfinite_parameters": where,
        "seconds": round(time.perf_counter() - start, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input-shape", type=int, nargs=3, default=[10, 1, 1])
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--repeats", type=int, default=1, help="runs with seeds 0, 1, ...")
    parser.add_argument("--no-mkldnn", action="store_true", help="turn oneDNN off")
    args = parser.parse_args()
    torch.backends.mkldnn.enabled = not args.no_mkldnn
    tiny = args.input_shape[1:] == [1, 1]
    for seed in range(args.repeats):
        record = count_nonfinite_steps(args.input_shape, args.steps, seed, tiny)
        print(
            json.dumps(
                {
                    "benchmark": "bf16_cpu_gradients",
                    "input_shape": args.input_shape,
                    "network": "sklearn_capsnet._testing.TINY_NETWORK" if tiny else "defaults",
                    "mkldnn": not args.no_mkldnn,
                    "seed": seed,
                    **record,
                    **machine("cpu"),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
