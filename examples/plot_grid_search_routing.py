"""
==================================================
Grid search over routing algorithms and iterations
==================================================

Every hyper-parameter of :class:`~sklearn_capsnet.CapsNetClassifier` is a plain constructor
argument, so :class:`~sklearn.model_selection.GridSearchCV` searches them like any other.
Here: the three routings between primary and class capsules (the paper's routing by
agreement, Efficient-CapsNet's self-attention, and Tsai et al.'s inverted dot-product
attention) and, for the two that iterate, the number of passes ``r``, on a smaller network to
keep the search short. Self-attention runs once, so it gets one grid point of its own: a
list of grids searches each.
"""

# %%
import matplotlib.pyplot as plt
import pandas as pd
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split

from sklearn_capsnet import CapsNetClassifier

X, y = load_digits(return_X_y=True)
X = X.reshape(-1, 8, 8)  # images, so that nothing has to guess
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)
small = CapsNetClassifier(conv_channels=64, primary_types=16, max_epochs=8, random_state=0)
grid = [
    {"routing": ["dynamic", "inverted_attention"], "routing_iterations": [1, 3]},
    {"routing": ["self_attention"]},
]
search = GridSearchCV(small, grid, cv=3, n_jobs=2).fit(X_train, y_train)
print("best:", search.best_params_, f"held-out accuracy {search.score(X_test, y_test):.2%}")

# %%
# Scores and fit times
# --------------------
# Inverted attention trains its class scores with cross-entropy, the other two their
# capsule lengths with the margin loss; ``predict_proba`` is defined for each so that
# the same scoring compares them (see the user guide, "Routing by agreement").
results = pd.DataFrame(search.cv_results_)
results["param_routing_iterations"] = results["param_routing_iterations"].fillna(1)
fig, (accuracy, seconds) = plt.subplots(1, 2, figsize=(10, 4))
for routing, group in results.groupby("param_routing"):
    passes = group["param_routing_iterations"].astype(int)
    accuracy.errorbar(
        passes,
        group["mean_test_score"],
        yerr=group["std_test_score"],
        marker="o",
        capsize=3,
        label=routing,
    )
    seconds.plot(passes, group["mean_fit_time"], marker="o", label=routing)
for ax in (accuracy, seconds):
    ax.set_xticks([1, 3])
    ax.set_xlabel("routing passes r (self-attention: one)")
accuracy.set_ylabel("3-fold accuracy")
seconds.set_ylabel("seconds per fit (8 epochs)")
accuracy.legend()
plt.show()
