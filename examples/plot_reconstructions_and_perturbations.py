"""
=========================================
What the capsules encode: reconstructions
=========================================

The decoder redraws each digit from its class capsule alone. Moving one of the capsule's
16 dimensions at a time by −0.25 … +0.25 and decoding shows what that dimension encodes
(the paper's Figure 4): stroke thickness, slant, width, ...
"""

# %%
import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from sklearn_capsnet import CapsNetClassifier
from sklearn_capsnet.plotting import PerturbationDisplay, ReconstructionDisplay

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)
clf = CapsNetClassifier(max_epochs=25, random_state=0).fit(X_train, y_train)

# %%
# Held-out digits (top) and their reconstructions (bottom)
# --------------------------------------------------------
ReconstructionDisplay.from_estimator(clf, X_test, n_images=10)
plt.show()

# %%
# Capsule dimensions, one per row
# -------------------------------
PerturbationDisplay.from_estimator(clf, X_test[0])
plt.show()
