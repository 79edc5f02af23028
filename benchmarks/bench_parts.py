"""The two hot spots of a training step, each against torch's own way; prints JSON lines.

- ``primary_convolution``: the paper network's PrimaryCaps convolution (256 → 256
  channels, 9×9, stride 2, on the 19×19 maps of a 28×28 input), forward and
  forward + backward, as torch's ``conv2d`` and as :class:`PatchConv2d` (patch
  products, taken on a CPU under bf16 autocast).
- ``routing``: dynamic routing of 1152 children to 10 parents of 16 dimensions
  (3 iterations), forward and forward + backward, as a plain einsum loop left to
  autograd and as :class:`DynamicRouting` (its backward pass written out).

Each contender runs alternately with the other, ``--repeats`` times ``--steps``
calls; the records give every repeat's milliseconds per call and the median.

    python benchmarks/bench_parts.py --precision bf16 --batch-size 32 --repeats 7
"""

import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F
from environment import machine

from sklearn_capsnet.nn import DynamicRouting, PatchConv2d, squash


def einsum_routing(u_hat, iterations=3):
    """Routing by agreement on ``[B, I, J, D]`` as the package wrote it before, for autograd."""
    logits = u_hat.new_zeros(u_hat.shape[:3])  # in û's dtype, as before the rewrite
    for iteration in range(iterations):
        coupling = torch.softmax(logits, dim=2)
        v = squash(torch.einsum("bij,bijd->bjd", coupling, u_hat))
        if iteration + 1 < iterations:
            logits = logits + torch.einsum("bijd,bjd->bij", u_hat, v)
    return v


def convolution_contenders(batch, dtype):
    conv = PatchConv2d(256, 256, 9, stride=2)
    x = torch.randn(batch, 256, 19, 19).relu().to(dtype)

    def torch_conv(x):
        return F.conv2d(x, conv.weight, conv.bias, conv.stride)

    return x, {"torch_conv2d": torch_conv, "patch_conv2d": conv}


def routing_contenders(batch, dtype):
    # parent-major predictions, as ClassCapsules stores them
    u_hat = (torch.randn(batch, 10, 1152, 16) / 30).to(dtype).transpose(1, 2)
    return u_hat, {"einsum_autograd": einsum_routing, "dynamic_routing": DynamicRouting(3)}


def time_contenders(x, contenders, precision, steps, repeats):
    """Milliseconds per call of each contender, forward and forward + backward."""

    def call(fn, backward):
        inp = x.detach().requires_grad_(backward)
        with torch.autocast("cpu", torch.bfloat16, enabled=precision == "bf16"):
            out = fn(inp)
        if backward:
            out.float().sum().backward()

    times = {(name, b): [] for name in contenders for b in (False, True)}
    for _ in range(repeats):
        for (name, backward), runs in times.items():
            call(contenders[name], backward)  # warm-up of this contender
            start = time.perf_counter()
            for _ in range(steps):
                call(contenders[name], backward)
            runs.append(round((time.perf_counter() - start) / steps * 1000, 2))
    return [
        {
            "implementation": name,
            "pass": "forward_backward" if backward else "forward",
            "ms": runs,
            "median_ms": round(statistics.median(runs), 2),
        }
        for (name, backward), runs in times.items()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--precision", choices=["bf16", "no"], default="bf16")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=3, help="calls per timed repeat")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    torch.manual_seed(0)
    dtype = torch.bfloat16 if args.precision == "bf16" else torch.float32
    info = {"precision": args.precision, "batch_size": args.batch_size, **machine("cpu")}
    for part, contenders in (
        ("primary_convolution", convolution_contenders),
        ("routing", routing_contenders),
    ):
        x, fns = contenders(args.batch_size, dtype)
        for record in time_contenders(x, fns, args.precision, args.steps, args.repeats):
            print(json.dumps({"benchmark": part, **record, **info}), flush=True)


if __name__ == "__main__":
    main()
