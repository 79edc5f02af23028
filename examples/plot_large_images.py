"""
=====================================================
Large images: a front end to the capsules' scale
=====================================================

The paper's network is sized for 28×28 digits. For larger images,
:class:`~sklearn_capsnet.CapsNetClassifier` first halves each side that is longer than 32
pixels until it is not (``front_end``): a 96×96 image reaches the capsules as a 24×24 map,
and the layers after it are those of a 24×24 image. So the parameters and the cost of a
pass hardly grow with the image (``verbose=1`` prints what was built).

The default front end, ``"conv"``, learns the halving (3×3 convolutions of stride 2, each
with a BatchNorm and a ReLU), so it can keep detail finer than the working size. Here the
three classes differ *only* in such detail: a grating of period 2 pixels, of rows, of
columns, or both (:func:`~sklearn_capsnet.datasets.make_gratings`), over a smooth random
background.
"""

# %%
import matplotlib.pyplot as plt

from sklearn_capsnet import CapsNetClassifier
from sklearn_capsnet.datasets import GRATINGS, make_gratings

X_train, y_train = make_gratings(600, size=96, random_state=0)
X_test, y_test = make_gratings(300, size=96, random_state=1)
print(X_train.shape, X_train.dtype)  # (600, 96, 96) uint8

# %%
# What a plain resize would pass on
# ---------------------------------
# ``front_end="resize"`` averages each 4×4 block of pixels into one position of the
# 24×24 working map. Averaged so, every grating vanishes: the three classes look alike.
fig, axes = plt.subplots(2, 3, figsize=(7, 4.8))
for label in range(3):
    image = X_train[y_train == label][0].astype(float)
    blocks = image.reshape(24, 4, 24, 4).mean(axis=(1, 3))
    axes[0, label].imshow(image[:24, :24], cmap="gray", vmin=0, vmax=255)
    axes[0, label].set_title(f"{GRATINGS[label]}: a 24×24 corner", fontsize=8)
    axes[1, label].imshow(blocks, cmap="gray", vmin=0, vmax=255)
    axes[1, label].set_title("4×4 block means", fontsize=8)
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
# working size (24×24), and :meth:`~sklearn_capsnet.CapsNetClassifier.reconstruct` brings
# its drawings back to 96×96 rows, in the units and layout of ``X``.
print(clf.reconstruct(X_test[:2]).shape)  # (2, 9216): two 96×96 images
