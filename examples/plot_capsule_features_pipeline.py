"""
=========================================
Capsule vectors as features in a Pipeline
=========================================

:class:`~sklearn_capsnet.CapsuleTransformer` trains a CapsNet and hands on its class capsules:
ten 16-D vectors per image. A linear model on top reads them; a 2-D projection shows how the
capsules separate the classes.
"""

# %%
import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from sklearn_capsnet import CapsuleTransformer

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)
pipe = make_pipeline(
    CapsuleTransformer(max_epochs=15, random_state=0), LogisticRegression(max_iter=2000)
)
pipe.fit(X_train, y_train)
print(f"capsules + logistic regression, held-out accuracy: {pipe.score(X_test, y_test):.2%}")
capsules = pipe[0].transform(X_test)
print(capsules.shape, pipe[0].get_feature_names_out()[:3])

# %%
# A 2-D view of the capsule space
# -------------------------------
projected = PCA(n_components=2, random_state=0).fit_transform(capsules)
fig, ax = plt.subplots(figsize=(6, 5))
points = ax.scatter(projected[:, 0], projected[:, 1], c=y_test, cmap="tab10", s=12)
ax.legend(*points.legend_elements(), title="digit", loc="best", fontsize=8)
ax.set_title("class capsules of held-out digits (PCA)")
plt.show()
