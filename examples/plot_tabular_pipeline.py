"""
===============================================
A table in a Pipeline: CapsNet beside baselines
===============================================

Rows of a table stay a table: each column is one input channel of a 1×1 "image", so the
convolutions act as dense layers, nothing is shifted, and every column gets its own
scaling range. Here the 13 chemical measurements of scikit-learn's wine data go through a
:class:`~sklearn.preprocessing.StandardScaler` and a
:class:`~sklearn_capsnet.CapsNetClassifier`, scored by 5-fold cross-validation beside
:class:`~sklearn.linear_model.LogisticRegression` and
:class:`~sklearn.neural_network.MLPClassifier` in the same pipeline.
"""

# %%
import time

import matplotlib.pyplot as plt
from sklearn.datasets import load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_capsnet import CapsNetClassifier

X, y = load_wine(return_X_y=True, as_frame=True)  # a DataFrame of 13 columns
print(X.shape, "classes:", sorted(y.unique()))

models = {
    "CapsNet": CapsNetClassifier(max_epochs=20, random_state=0),
    "logistic regression": LogisticRegression(max_iter=1000),
    "MLP": MLPClassifier(max_iter=2000, random_state=0),
}
cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
scores = {}
for name, model in models.items():
    start = time.perf_counter()
    scores[name] = cross_val_score(make_pipeline(StandardScaler(), model), X, y, cv=cv)
    print(
        f"{name:>20}: {scores[name].mean():.3f} ± {scores[name].std():.3f} "
        f"({time.perf_counter() - start:.1f} s for 5 fits)"
    )

# %%
# How the network sees one row
# ----------------------------
# 13 columns of standardised values (negative ones among them) are a table: the input
# shape is ``(13, 1, 1)``, 13 channels of one position.
pipe = make_pipeline(StandardScaler(), CapsNetClassifier(max_epochs=20, random_state=0))
pipe.fit(X, y)
print("input_shape_:", pipe[-1].input_shape_)

fig, ax = plt.subplots(figsize=(6, 3))
ax.boxplot(list(scores.values()), tick_labels=list(scores))
ax.set_ylabel("5-fold accuracy")
ax.set_title("wine: the same pipeline, three classifiers")
fig.tight_layout()
