"""
=========================================
Which parts voted: routing as explanation
=========================================

Routing by agreement decides, for each input, how much each primary capsule (one
capsule type at one position) sends to each class capsule: the coupling coefficients
of the last routing iteration, the paper's "parse tree".
:meth:`~sklearn_capsnet.CapsNetClassifier.coupling_coefficients` returns them,
``(n_samples, n_primary_capsules, n_classes)``; with dynamic routing each primary
capsule's coefficients sum to 1 over the classes, and ``1 / n_classes`` is where
routing starts before any agreement.

:class:`~sklearn_capsnet.plotting.CouplingDisplay` maps them back onto the input: each
pixel gets the mean coupling of the primary capsules whose receptive field holds it.
Red: the capsules there sent more than an even share to that class; blue: less.
"""

# %%
# Digits
# ------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits, load_sample_images
from sklearn.model_selection import train_test_split

from sklearn_capsnet import CapsNetClassifier
from sklearn_capsnet.plotting import CouplingDisplay

X, y = load_digits(return_X_y=True)
X = X.reshape(-1, 8, 8)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)
clf = CapsNetClassifier(max_epochs=20, random_state=0).fit(X_train, y_train)
print(f"held-out accuracy: {clf.score(X_test, y_test):.2%}")

coupling = clf.coupling_coefficients(X_test)
print("coupling:", coupling.shape)  # 32 types × 2×2 positions = 128 primary capsules
# How far routing moved from the even share, per input: the mean |c - 1/10|
print(f"mean |c - 1/10|: {np.abs(coupling - 0.1).mean():.3f}")

for index in (0, 1):
    CouplingDisplay.from_estimator(clf, X_test[index])

# %%
# How much goes to the predicted class
# ------------------------------------
# Averaged over the primary capsules: the share of the votes that went to the predicted
# class, for the correctly and the wrongly classified held-out digits.
predicted = clf.predict(X_test)
share = coupling.mean(axis=1)[np.arange(len(X_test)), np.searchsorted(clf.classes_, predicted)]
for name, mask in (("correct", predicted == y_test), ("wrong", predicted != y_test)):
    if mask.any():
        mean_share = share[mask].mean()
        print(f"{name:8s} {mask.sum():4d} digits, mean share to the predicted: {mean_share:.3f}")

# %%
# A colour image, channels last
# -----------------------------
# 16×16 patches of the two photographs bundled with scikit-learn, labelled by photograph;
# the coupling maps are drawn over a grey copy of the patch.
photos = load_sample_images()
rng = np.random.default_rng(0)
patches, labels = [], []
for label, image in enumerate(photos.images):  # uint8 (427, 640, 3)
    for _ in range(400):
        top, left = rng.integers(0, image.shape[0] - 16), rng.integers(0, image.shape[1] - 16)
        patches.append(image[top : top + 16, left : left + 16])
        labels.append(photos.filenames[label].split("/")[-1].removesuffix(".jpg"))
patches, labels = np.stack(patches), np.array(labels)
colour = CapsNetClassifier(max_epochs=5, conv_channels=64, primary_types=16, random_state=0)
colour.fit(patches[::2], labels[::2])
print(f"held-out accuracy on patches: {colour.score(patches[1::2], labels[1::2]):.2%}")
CouplingDisplay.from_estimator(colour, patches[1])
CouplingDisplay.from_estimator(colour, patches[401])
plt.show()
