"""
=======================================
Multilabel capsules: overlapping digits
=======================================

Each class capsule says how present its class is, independently of the others.
That is what let the paper's CapsNet read two overlapping MNIST digits. Here we
superimpose pairs of scikit-learn's 8×8 digits on a 10×10 canvas, each shifted at
random, and ask for *both* labels: ``y`` is a 0/1 indicator matrix, so
:class:`~sklearn_capsnet.CapsNetClassifier` trains one capsule per digit with the
margin loss and predicts every capsule longer than ``threshold``.

We compare with :class:`~sklearn.neural_network.MLPClassifier`, which also takes
indicator targets, on exact match (both digits right) and per-label accuracy.
"""

# %%
# Overlapping digits
# ------------------
# Two different digits, each placed at a random offset of 0–2 pixels on a 10×10
# canvas; where they overlap, the brighter pixel wins.
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.metrics import accuracy_score
from sklearn.neural_network import MLPClassifier

from sklearn_capsnet import CapsNetClassifier

digits, labels = load_digits(return_X_y=True)
images = digits.reshape(-1, 8, 8)
rng = np.random.default_rng(0)


def overlapping_pairs(n_pairs, pool):
    X = np.zeros((n_pairs, 10, 10))
    Y = np.zeros((n_pairs, 10), dtype=int)
    for k in range(n_pairs):
        first = rng.choice(pool)
        second = rng.choice(pool[labels[pool] != labels[first]])
        for index in (first, second):
            dy, dx = rng.integers(0, 3, size=2)
            window = X[k, dy : dy + 8, dx : dx + 8]
            np.maximum(window, images[index], out=window)
            Y[k, labels[index]] = 1
    return X, Y


order = rng.permutation(len(labels))
train_pool, test_pool = order[:1300], order[1300:]  # no digit image in both sets
X_train, Y_train = overlapping_pairs(3000, train_pool)
X_test, Y_test = overlapping_pairs(1000, test_pool)

fig, axes = plt.subplots(1, 6, figsize=(9, 1.8))
for ax, image, target in zip(axes, X_test, Y_test, strict=False):
    ax.imshow(image, cmap="gray_r")
    ax.set_title(" + ".join(str(d) for d in np.flatnonzero(target)))
    ax.set_axis_off()

# %%
# Train both models on the indicator matrix
# -----------------------------------------
capsnet = CapsNetClassifier(max_epochs=8, random_state=0)
start = time.perf_counter()
capsnet.fit(X_train, Y_train)
capsnet_seconds = time.perf_counter() - start

mlp = MLPClassifier(hidden_layer_sizes=(256, 256), max_iter=300, random_state=0)
start = time.perf_counter()
mlp.fit(X_train.reshape(len(X_train), -1), Y_train)
mlp_seconds = time.perf_counter() - start

results = {
    "CapsNet": (capsnet.predict(X_test), capsnet_seconds),
    "MLP": (mlp.predict(X_test.reshape(len(X_test), -1)), mlp_seconds),
}
for name, (predicted, seconds) in results.items():
    exact = accuracy_score(Y_test, predicted)
    per_label = (predicted == Y_test).mean()
    print(f"{name:8s} exact match {exact:.1%}   per-label {per_label:.2%}   fit {seconds:.0f} s")

# %%
# What the capsules say
# ---------------------
# The two longest capsules should be the two digits; the decoder redraws the pair
# from the active capsules.
lengths = capsnet.predict_proba(X_test[:6])
decoded = capsnet.reconstruct(X_test[:6])  # (6, 10, 10), like X_test
fig, axes = plt.subplots(3, 6, figsize=(9, 4.8))
for k in range(6):
    axes[0, k].imshow(X_test[k], cmap="gray_r")
    axes[0, k].set_title(" + ".join(str(d) for d in np.flatnonzero(Y_test[k])))
    axes[1, k].bar(range(10), lengths[k], color="tab:blue")
    axes[1, k].axhline(capsnet.threshold, color="tab:red", lw=0.8)
    axes[1, k].set_ylim(0, 1)
    axes[1, k].set_xticks(range(10))
    axes[1, k].tick_params(labelsize=6)
    axes[2, k].imshow(decoded[k], cmap="gray_r")
    for row in (0, 2):
        axes[row, k].set_axis_off()
axes[1, 0].set_ylabel("capsule length")
fig.tight_layout()
plt.show()
