"""
=============================================
Shifted inputs: a CapsNet against a plain CNN
=============================================

The paper's core claim is that capsules cope with affine changes better than pooling
CNNs. Both models here go through the same scikit-learn API (a skorch
``NeuralNetClassifier`` for the CNN), train for the same number of epochs with the same
±1-pixel random shifts, and are tested on held-out digits shifted by 0 to 3 pixels —
farther than anything seen in training.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from skorch import NeuralNetClassifier
from torch import nn

from sklearn_capsnet import CapsNetClassifier
from sklearn_capsnet.nn.augment import random_shift

X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype(np.float32)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)


class SmallCNN(nn.Module):
    """Two convolutions, max-pooling and two dense layers (about 1.1 M parameters)."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 64, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 3, padding=1),
            nn.ReLU(),
        )
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(128 * 16, 512), nn.ReLU(), nn.Linear(512, 10)
        )

    def forward(self, x):
        x = x.view(-1, 1, 8, 8)
        if self.training:
            x = random_shift(x, 1)  # the same augmentation as the CapsNet's
        return self.head(self.features(x))


torch.manual_seed(0)
cnn = NeuralNetClassifier(
    SmallCNN,
    criterion=nn.CrossEntropyLoss,  # the module returns logits
    max_epochs=20,
    lr=1e-3,
    optimizer=torch.optim.Adam,
    batch_size=32,
    train_split=None,
    verbose=0,
)
cnn.fit(X_train, y_train)
capsnet = CapsNetClassifier(max_epochs=20, shift=1, random_state=0).fit(X_train, y_train)
print(
    "parameters: CapsNet",
    sum(p.numel() for p in capsnet.net_.module_.parameters()),
    "CNN",
    sum(p.numel() for p in cnn.module_.parameters()),
)

# %%
# Accuracy on shifted test digits
# -------------------------------
# Each test image moves right by ``s`` pixels (zero padding); columns that leave the
# 8×8 frame are lost.


def shift_right(images, pixels):
    images = images.reshape(-1, 8, 8)
    out = np.zeros_like(images)
    out[:, :, pixels:] = images[:, :, : 8 - pixels]
    return out.reshape(len(images), -1)


shifts = [0, 1, 2, 3]
scores = {"CapsNet": [], "CNN": []}
for pixels in shifts:
    moved = shift_right(X_test, pixels)
    scores["CapsNet"].append(capsnet.score(moved, y_test))
    scores["CNN"].append(cnn.score(moved, y_test))
for name, values in scores.items():
    print(name, " ".join(f"{v:.1%}" for v in values))

fig, ax = plt.subplots(figsize=(6, 4))
for name, values in scores.items():
    ax.plot(shifts, values, marker="o", label=name)
ax.set_xticks(shifts)
ax.set_xlabel("shift of the test digits (pixels; training saw at most 1)")
ax.set_ylabel("held-out accuracy")
ax.legend()
plt.show()

# %%
# What this shows
# ---------------
# On these tiny 8×8 digits the max-pooling CNN loses less accuracy than the CapsNet when
# the test digits move farther than training did (on the machine that built these docs:
# CapsNet 98.4 %, 97.8 %, 41.1 %, 11.6 % against CNN 99.6 %, 98.9 %, 76.4 %, 27.3 % for shifts
# of 0–3 pixels). A 3-pixel shift removes 3 of 8 columns; the CapsNet here has only a 2×2 grid of
# primary capsules to route from. The paper's robustness result (affNIST) used 28×28 digits
# placed on a 40×40 canvas, which is what the Fashion-MNIST study in the benchmarks is for.
