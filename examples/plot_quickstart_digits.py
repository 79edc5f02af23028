"""
==================================
Quick start: digits with a CapsNet
==================================

Train :class:`~sklearn_capsnet.CapsNetClassifier` with its defaults on scikit-learn's bundled
8×8 digits, hold out a quarter of them, and look at the confusion matrix.
"""

# %%
# Train
# -----
# Flat rows of 64 values are square, so the network sees them as 8×8 images; training
# shifts them by up to one pixel each epoch.
import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.metrics import ConfusionMatrixDisplay
from sklearn.model_selection import train_test_split

from sklearn_capsnet import CapsNetClassifier

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)
clf = CapsNetClassifier(random_state=0).fit(X_train, y_train)
print(f"held-out accuracy: {clf.score(X_test, y_test):.2%}")
print(f"input shape seen by the network: {clf.input_shape_}")

# %%
# Learning curve and confusion matrix
# -----------------------------------
# ``history_`` is skorch's history: one row per epoch.
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
left.plot(clf.history_[:, "epoch"], clf.history_[:, "train_loss"])
left.set_xlabel("epoch")
left.set_ylabel("training loss (margin + reconstruction)")
left.set_yscale("log")
ConfusionMatrixDisplay.from_estimator(clf, X_test, y_test, ax=right, colorbar=False)
right.set_title("held-out digits")
fig.tight_layout()
plt.show()
