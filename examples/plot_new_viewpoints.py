"""
=======================================================
New viewpoints: capsules against a CNN, affNIST-style
=======================================================

The paper's case for capsules is that they generalise to new viewpoints: trained only on
MNIST digits placed at random on a 40×40 canvas, its CapsNet scored 79 % on affNIST
(small random rotations, shears and scalings) against 66 % for a CNN of similar size, both
stopped at the same accuracy on placed digits.

This page shows that test's data, on scikit-learn's digits, and what
``benchmarks/bench_viewpoints.py`` measured with this project's default network on
Fashion-MNIST, whichever model wins:

1. the images each model trains on, and the new viewpoints it is tested on;
2. accuracy against the strength of each transform (three seeds; the default CapsNet
   against a CNN of the same parameter count).
"""

# %%
# Training on placed digits, testing on affine ones
# -------------------------------------------------
# :func:`~sklearn_capsnet.datasets.place_on_canvas` copies each image to a random position
# on a larger canvas (the paper's training set); :func:`~sklearn_capsnet.datasets.make_affine`
# turns, shears, scales and moves each image at random within affNIST's ranges (each range
# a parameter; a range ``(v, v)`` applies one transform at one strength). The 8×8 digits are
# first made like MNIST's: enlarged to 20×20 and centred on a 28×28 frame.
import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from sklearn_capsnet.datasets import make_affine, place_on_canvas

X, y = load_digits(return_X_y=True)
small = np.round(X.reshape(-1, 8, 8) * (255 / 16)).astype(np.uint8)
digits = make_affine(small, 28, rotation=0, shear=0, scale=2.5, translation=0)  # 28×28
D_train, D_test, y_train, y_test = train_test_split(
    digits, y, test_size=0.25, stratify=y, random_state=0
)
X_train = place_on_canvas(D_train, 40, random_state=0)  # [n, 40, 40] uint8
X_affine = make_affine(D_test, 40, random_state=1)  # affNIST's ranges
alone = {"rotation": 0, "shear": 0, "scale": 1, "translation": 0}  # centred, unchanged
one_at_a_time = {
    "rotation 30°": make_affine(D_test, 40, **{**alone, "rotation": (30, 30)}),
    "shear 0.3": make_affine(D_test, 40, **{**alone, "shear": (0.3, 0.3)}),
    "scale 0.8": make_affine(D_test, 40, **{**alone, "scale": 0.8}),
    "scale 1.2": make_affine(D_test, 40, **{**alone, "scale": 1.2}),
    "moved ≤ 8 px": make_affine(D_test, 40, **{**alone, "translation": 8}, random_state=2),
}
rows = {"placed (training)": X_train, "affNIST-style (test)": X_affine, **one_at_a_time}
fig, axes = plt.subplots(len(rows), 8, figsize=(8, 1.1 * len(rows)))
for (title, images), line in zip(rows.items(), axes, strict=True):
    for k, ax in enumerate(line):
        ax.imshow(images[k], cmap="gray_r", vmin=0, vmax=255)
        ax.set_xticks([]), ax.set_yticks([])
    line[0].set_ylabel(title, rotation=0, ha="right", va="center", fontsize=8)
fig.subplots_adjust(left=0.2, wspace=0.05, hspace=0.05)

# %%
# Accuracy against the strength of each transform
# -----------------------------------------------
# From ``benchmarks/bench_viewpoints.py --plateau`` (its JSON lines are kept in
# ``benchmarks/results/``): per seed, 6,000 Fashion-MNIST training images placed on a 40×40
# canvas (placed anew each epoch, the same for both models), the default
# :class:`~sklearn_capsnet.CapsNetClassifier` (the canvas read at 36×36, 10×10×32 primary
# capsules, 11.4 M parameters) and a CNN of two 5×5 convolutions with max-pooling and two
# dense layers, its width chosen for the same parameter count, both through the
# scikit-learn API, with the same batch size, optimiser, learning-rate decay and ±2-pixel
# shifts, each trained until its held-out placed accuracy stopped rising (at most 12
# epochs). Each is then taken back to the first epoch whose held-out placed accuracy
# reaches the highest accuracy both reach, and scored there on test images under one
# transform at a time: rotation by ±angle, shear by ±factor, both axes scaled (each about
# the canvas's centre, a position training placed images at too), or moved by up to ± a
# number of pixels along each axis. Lines: the mean over the seeds; bands: ± one standard
# deviation; shading: affNIST's ranges (for translation: how far training placement moved
# images). On this CPU the CapsNet computes in bfloat16 (its ``mixed_precision="auto"``),
# the CNN in float32. The benchmarks page gives every run, the digits too, and the
# variants of the CapsNet tried.
here = Path.cwd().resolve()  # the repository, or its examples folder
results = next(
    p / "benchmarks" / "results" for p in (here, *here.parents) if (p / "benchmarks").is_dir()
)
summaries = {}
with open(results / "viewpoints_plateau_cpu.jsonl") as lines:
    for line in lines:
        record = json.loads(line)
        if record["benchmark"] == "viewpoints_summary":
            summaries[record["dataset"]] = record
if not summaries:
    raise RuntimeError("viewpoints_plateau_cpu.jsonl holds no summary line: rerun the benchmark")
machine = next(iter(summaries.values()))
seeds = len(machine["capsnet"]["affine_test"]["per_seed"])
print(f"measured on {machine['device_name']} ({machine['device']}), torch "
      f"{machine['versions']['torch']}, {seeds} seeds")  # fmt: skip

labels = {"rotation": "rotation (degrees, either way)", "shear": "shear (either way)",
          "translation": "translation (up to ± pixels)",
          "scale": "scale of both axes"}  # fmt: skip
affnist = {"rotation": (0, 20), "shear": (0, 0.2), "scale": (0.8, 1.2), "translation": (0, 6)}
names = {"capsnet": "CapsNet", "cnn": "CNN"}
fig, axes = plt.subplots(len(summaries), 4, figsize=(12, 3 * len(summaries)), squeeze=False)
for (dataset, summary), line in zip(summaries.items(), axes, strict=True):
    for kind, ax in zip(labels, line, strict=True):
        for model, name in names.items():
            curve = summary[model]["by_strength"][kind]
            strengths = [float(s) for s in curve]
            mean = np.array([curve[s]["mean"] for s in curve])
            std = np.array([curve[s]["std"] for s in curve])
            ax.plot(strengths, mean, marker="o", label=name)
            ax.fill_between(strengths, mean - std, mean + std, alpha=0.2)
        ax.axvspan(*affnist[kind], color="grey", alpha=0.1)
        ax.set_xlabel(labels[kind])
        ax.set_ylim(0, 1)
    line[0].set_ylabel(f"{dataset}: test accuracy")
    line[0].legend()
fig.tight_layout()

for dataset, summary in summaries.items():
    print(f"{dataset}:")
    for model, name in names.items():
        stats = summary[model]
        held, affine = stats["held_out"], stats["affine_test"]
        print(f"  {name:8s} held-out placed {held['mean']:.1%} ± {held['std']:.1%}, "
              f"affNIST-style test {affine['mean']:.1%} ± {affine['std']:.1%}")  # fmt: skip
    gap = summary["capsnet"]["minus_cnn_affine_test"]
    per_seed = " ".join(f"{d:+.1%}" for d in gap["per_seed"])
    print(f"  CapsNet minus CNN, affNIST-style test, seed by seed: {per_seed}")

# %%
# What this shows
# ---------------
# The numbers above are what the benchmark measured on the machine it names. At the same
# held-out accuracy the CapsNet and the CNN are level on the affNIST-style test (ahead on
# two seeds of three, by less than the spread between seeds, not the paper's 13 points):
# the CapsNet keeps more of a scaled garment, the CNN more of a turned or sheared one.
# The CapsNet learns the placed garments better (its best held-out accuracy, at epoch 11 or
# 12, was above the CNN's best), so it is compared at an earlier epoch. The
# benchmarks page (docs/benchmarks.md, "New viewpoints") gives every run, the variants of
# the CapsNet that were tried, and the command for the full run on a GPU.
