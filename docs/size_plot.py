"""The docs' plot of accuracy against image size, drawn from the measured JSON lines.

``benchmarks/results/sizes_default_cpu.jsonl`` holds the runs of ``bench_sizes.py`` that
trained the current default network (each line as the benchmark printed it); this
draws each size's accuracy, centred and upsampled, every seed a dot and their mean a
line, against the 28×28 mean and the band of one point under it that issue 36 asks
every size to stay within.
"""

import json
from collections import defaultdict
from pathlib import Path

__all__ = ["size_accuracies", "size_gaps", "write_size_plot"]


def size_accuracies(path: Path) -> dict:
    """``{(way, side): {seed: accuracy in %}}`` of the fashion runs in ``path`` (the first
    runs wrote no seed: seed 0)."""
    found = defaultdict(dict)
    for line in Path(path).read_text().splitlines():
        record = json.loads(line)
        if record.get("task") == "fashion":
            seed = record.get("seed") or 0
            found[(record["way"], record["side"])][seed] = 100 * record["accuracy"]
    return dict(found)


def size_gaps(found: dict) -> dict:
    """``{way: {side: [points]}}``: each run's accuracy less the 28×28 run's of its seed."""
    reference = found[("as is", 28)]
    gaps = defaultdict(dict)
    for (way, side), runs in found.items():
        if way != "as is":
            gaps[way][side] = [accuracy - reference[seed] for seed, accuracy in runs.items()]
    return dict(gaps)


def write_size_plot(results: Path, out: Path) -> None:
    """Draw ``results`` (see the module docstring) into the PNG ``out``: each run's accuracy
    less the 28×28 run's of the same seed, and their mean per size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    gaps = size_gaps(size_accuracies(results))
    figure, axes = plt.subplots(figsize=(7, 3.6), layout="constrained")
    axes.axhspan(-1, 0, color="0.9", label="within 1 point under 28×28")
    axes.axhline(0, color="0.3", lw=1)
    for way, colour in (("centred", "tab:blue"), ("upsampled", "tab:orange")):
        sides = sorted(gaps[way])
        means = [sum(gaps[way][s]) / len(gaps[way][s]) for s in sides]
        axes.plot(sides, means, "-", color=colour, label=f"{way}: mean over the seeds run")
        for side in sides:
            axes.plot([side] * len(gaps[way][side]), gaps[way][side], ".", color=colour, alpha=0.6)
    axes.set_xscale("log", base=2)
    ticks = [28, 32, 40, 48, 64, 96, 128, 160, 224]
    axes.set_xticks(ticks, [str(t) for t in ticks])
    axes.minorticks_off()
    axes.set_xlim(26, 240)
    axes.set_xlabel("image side (pixels)")
    axes.set_ylabel("accuracy less 28×28's, same seed (points)")
    axes.set_title(
        "Fashion-MNIST, 1,500 training images, 3 epochs, the default network; dots: seeds",
        fontsize=9,
    )
    axes.legend(fontsize=8, loc="lower left")
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110)
    plt.close(figure)
