"""
=====================================================
Large images: a front end to the capsules' scale
=====================================================

The paper's network is sized for 28×28 digits; its grid of primary capsules grows with
the image (6×6 at 28×28, 12×12 at 40×40). :class:`~sklearn_capsnet.CapsNetClassifier`
lets it grow up to ``primary_grid`` positions (by default 14×14, reached at 44×44, for
images of 96 to 175 pixels) and brings every longer side to that working size first
(``front_end``): a 96×96 image reaches the capsules as a 44×44 map, and the layers after
it are those of a 44×44 image. So the
parameters and the cost of a pass hardly grow with the image (``verbose=1`` prints what
was built).

The default front end, ``"conv"``, learns the reduction (3×3 convolutions that halve each
side while it stays at least the working size, each with a BatchNorm and a ReLU, then an
area resampling for the rest), so it can keep detail finer than the working size. Here the
three classes differ *only* in such detail: a grating of period 2 pixels, of rows, of
columns, or both (:func:`~sklearn_capsnet.datasets.make_gratings`), over a smooth random
background.
"""

# %%
import matplotlib.pyplot as plt
import torch

from sklearn_capsnet import CapsNetClassifier
from sklearn_capsnet.datasets import GRATINGS, make_gratings
from sklearn_capsnet.nn import area_resize

X_train, y_train = make_gratings(600, size=96, random_state=0)
X_test, y_test = make_gratings(300, size=96, random_state=1)
print(X_train.shape, X_train.dtype)  # (600, 96, 96) uint8

# %%
# What a plain resize would pass on
# ---------------------------------
# ``front_end="resize"`` averages the pixels under each position of the 44×44 working
# map (cells of 96 / 44 = 2.2 pixels). Averaged so, the gratings all but vanish: the
# three classes look alike.
fig, axes = plt.subplots(2, 3, figsize=(7, 4.8))
for label in range(3):
    image = X_train[y_train == label][0].astype(float)
    means = area_resize(torch.tensor(image)[None, None], (44, 44))[0, 0]
    axes[0, label].imshow(image[:44, :44], cmap="gray", vmin=0, vmax=255)
    axes[0, label].set_title(f"{GRATINGS[label]}: a 44×44 corner", fontsize=8)
    axes[1, label].imshow(means, cmap="gray", vmin=0, vmax=255)
    axes[1, label].set_title("area means at 44×44", fontsize=8)
for ax in axes.ravel():
    ax.set_axis_off()
fig.tight_layout()

# %%
# The default front end learns the texture
# ----------------------------------------
clf = CapsNetClassifier(max_epochs=3, random_state=0).fit(X_train, y_train)
print(clf.net_.module_.describe())
print(f"held-out accuracy: {clf.score(X_test, y_test):.1%} (chance: 33.3%)")

# %%
# Trained the same way with ``front_end="resize"``, the network stays at chance
# (``benchmarks/bench_large_images.py --tasks gratings`` measures both).
#
# Everything else answers at the input's size: the decoder draws each image at the
# working size (44×44), and :meth:`~sklearn_capsnet.CapsNetClassifier.reconstruct` brings
# its drawings back to 96×96 images, in the shape, units and layout of ``X``.
print(clf.reconstruct(X_test[:2]).shape)  # (2, 96, 96): two images, like X_test's
