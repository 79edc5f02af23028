"""
======================================================
Grid search over routing iterations and reconstruction
======================================================

Every hyper-parameter of :class:`~sklearn_capsnet.CapsNetClassifier` is a plain constructor
argument, so :class:`~sklearn.model_selection.GridSearchCV` searches them like any other.
Here: the number of routing iterations ``r`` and whether the decoder's reconstruction
error regularises training, on a smaller network to keep the search short.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split

from sklearn_capsnet import CapsNetClassifier

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)
small = CapsNetClassifier(conv_channels=64, primary_types=16, max_epochs=10, random_state=0)
grid = {"routing_iterations": [1, 2, 3], "reconstruction_weight": [0.0, 0.0005]}
search = GridSearchCV(small, grid, cv=3, n_jobs=2).fit(X_train, y_train)
print("best:", search.best_params_, f"held-out accuracy {search.score(X_test, y_test):.2%}")

# %%
# Scores
# ------
results = pd.DataFrame(search.cv_results_)
fig, ax = plt.subplots(figsize=(6, 4))
for weight, group in results.groupby("param_reconstruction_weight"):
    ax.errorbar(
        group["param_routing_iterations"].astype(int) + (0.05 if weight else -0.05),
        group["mean_test_score"],
        yerr=group["std_test_score"],
        marker="o",
        capsize=3,
        label=f"reconstruction weight {weight}",
    )
ax.set_xticks(np.array(grid["routing_iterations"]))
ax.set_xlabel("routing iterations r")
ax.set_ylabel("3-fold accuracy")
ax.legend()
plt.show()
