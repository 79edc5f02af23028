"""
=========================================
Colour images held channels-last
=========================================

NumPy, PIL, OpenCV, Keras and most copies of CIFAR-10 hold colour images as
``(n, height, width, 3)``. :class:`~sklearn_capsnet.CapsNetClassifier` reads a last axis of
1, 3 or 4 behind a larger height and width as the channels (``data_format="auto"``), and
rearranges each batch on its way to the device, so the array is never copied whole.

The task: 16×16 patches cut from the two photographs bundled with scikit-learn
(:func:`~sklearn.datasets.load_sample_images`), labelled by the photograph they come from.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_sample_images
from sklearn.model_selection import train_test_split

from sklearn_capsnet import CapsNetClassifier

photos = load_sample_images()
rng = np.random.default_rng(0)
patches, labels = [], []
for label, image in enumerate(photos.images):  # uint8 (427, 640, 3)
    for _ in range(400):
        top, left = rng.integers(0, image.shape[0] - 16), rng.integers(0, image.shape[1] - 16)
        patches.append(image[top : top + 16, left : left + 16])
        labels.append(photos.filenames[label].split("/")[-1].removesuffix(".jpg"))
X, y = np.stack(patches), np.array(labels)
print(X.shape, X.dtype)  # (800, 16, 16, 3) uint8: channels last
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)

# %%
# Train on the channels-last array as it is
# -----------------------------------------
clf = CapsNetClassifier(max_epochs=5, conv_channels=64, primary_types=16, random_state=0)
clf.fit(X_train, y_train)
print("input_shape_:", clf.input_shape_, "data_format_:", clf.data_format_)
print(f"held-out accuracy: {clf.score(X_test, y_test):.2%}")

# %%
# The same model from channels-first data
# ---------------------------------------
# Transposed to ``(n, 3, 16, 16)`` the data train the very same network: the reading is
# a layout, not a different model.
first = CapsNetClassifier(max_epochs=5, conv_channels=64, primary_types=16, random_state=0)
first.fit(X_train.transpose(0, 3, 1, 2), y_train)
same = np.allclose(
    first.predict_proba(X_test.transpose(0, 3, 1, 2)), clf.predict_proba(X_test), atol=1e-5
)
print("same predictions:", same)

# %%
# Reconstructions come back in the shape and layout of X
# ------------------------------------------------------
images = clf.reconstruct(X_test[:6])  # (6, 16, 16, 3): channels last, like X
fig, axes = plt.subplots(2, 6, figsize=(8, 3))
for k in range(6):
    axes[0, k].imshow(X_test[k])
    axes[1, k].imshow(np.clip(images[k], 0, 255).astype(np.uint8))
    axes[0, k].set_title(clf.predict(X_test[k : k + 1])[0], fontsize=8)
for ax in axes.ravel():
    ax.set_axis_off()
fig.suptitle("held-out patches (top) and their reconstructions (bottom)")
fig.tight_layout()
