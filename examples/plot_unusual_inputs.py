"""
==============================================================
Flagging inputs unlike the training data by reconstruction
==============================================================

A CapsNet decodes each input back from its winning class capsule. Frosst, Sabour & Hinton
(2018, "DARCCC") observed that inputs unlike the training data are drawn back badly:
the decoder only knows how to draw the classes it was trained on.
:meth:`~sklearn_capsnet.CapsNetClassifier.reconstruction_error` gives that distance, one
float per sample: the root mean squared difference between input and reconstruction in
the network's units (the training data's range mapped to [0, 1]), so the same number
whatever the units of ``X``.

Here a model learns the digits 0-7 and meets four kinds of input: held-out digits of
those classes (the normal case), random noise, digits with their pixels shuffled, and the
digits 8 and 9 it never saw. For each unusual kind, the ROC AUC says how well a score
separates it from the normal held-out digits (1: perfectly, 0.5: not at all), for the
reconstruction error and for the usual baseline, one minus the largest ``predict_proba``.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from sklearn_capsnet import CapsNetClassifier
from sklearn_capsnet.plotting import ReconstructionDisplay

X, y = load_digits(return_X_y=True)
X = X.reshape(-1, 8, 8)  # images: no guessing whether 64 columns are a table
known = y < 8
X_train, X_test, y_train, y_test = train_test_split(
    X[known], y[known], test_size=0.25, stratify=y[known], random_state=0
)
clf = CapsNetClassifier(max_epochs=20, random_state=0).fit(X_train, y_train)
print(f"held-out accuracy on the digits 0-7: {clf.score(X_test, y_test):.2%}")

# %%
# Four kinds of input
# -------------------
rng = np.random.default_rng(0)
inputs = {
    "held-out digits 0-7": X_test,
    "random noise": rng.uniform(0, 16, X_test.shape),
    "shuffled pixels": np.array([rng.permutation(d.ravel()).reshape(8, 8) for d in X_test]),
    "digits 8 and 9 (never seen)": X[~known],
}
errors = {name: clf.reconstruction_error(data) for name, data in inputs.items()}
doubt = {name: 1 - clf.predict_proba(data).max(axis=1) for name, data in inputs.items()}

# %%
# A threshold from the training data
# ----------------------------------
# The training errors say what "normal" looks like: flag what reconstructs worse than 99 %
# of the training images. A lower percentile flags more, normal inputs included.
threshold = np.percentile(clf.reconstruction_error(X_train), 99)
print(f"threshold (99th percentile of the training errors): {threshold:.3f}")
normal = "held-out digits 0-7"
for name in inputs:
    flagged = (errors[name] > threshold).mean()
    line = f"{name:30s} median error {np.median(errors[name]):.3f}, flagged {flagged:6.1%}"
    if name != normal:
        truth = np.r_[np.zeros(len(errors[normal])), np.ones(len(errors[name]))]
        auc_error = roc_auc_score(truth, np.r_[errors[normal], errors[name]])
        auc_doubt = roc_auc_score(truth, np.r_[doubt[normal], doubt[name]])
        line += f"; ROC AUC: reconstruction error {auc_error:.3f}, 1 - max proba {auc_doubt:.3f}"
    print(line)

# %%
# The distributions
# -----------------
fig, ax = plt.subplots(figsize=(7, 3.5))
bins = np.linspace(0, max(e.max() for e in errors.values()), 50)
for name, values in errors.items():
    ax.hist(values, bins=bins, histtype="step", density=True, label=name, linewidth=1.5)
ax.axvline(threshold, color="k", linestyle="--", label="99th percentile of training")
ax.set_xlabel("reconstruction error (RMS, network units)")
ax.set_ylabel("density")
ax.legend(fontsize=8)
fig.tight_layout()

# %%
# Best and worst reconstructions
# ------------------------------
# Across all four kinds: the six inputs drawn back best (top) and the six drawn back worst.
everything = np.concatenate(list(inputs.values()))
all_errors = np.concatenate(list(errors.values()))
order = np.argsort(all_errors)
for title, chosen in (("best", order[:6]), ("worst", order[-6:])):
    display = ReconstructionDisplay.from_estimator(clf, everything[chosen], n_images=6)
    low, high = all_errors[chosen].min(), all_errors[chosen].max()
    display.figure_.suptitle(f"{title} reconstructions (errors {low:.2f} to {high:.2f})")

# %%
# Larger images
# -------------
# Above 28×28 the decoder draws at the working size (36×36 to 56×56 by default) and its
# drawing is brought back to the input's size. The error compares pixel by pixel at that size, so
# detail finer than the working size that the training images lacked (noise, shuffled
# pixels, the texture of a photograph) counts in full. The same digits, upsampled to
# 64×80 (not square), meet the same kinds of input and crops of a photograph; a narrower
# network (64 channels, 16 capsule types) keeps this page quick.
import torch  # noqa: E402
from sklearn.datasets import load_sample_image  # noqa: E402


def resized(images, size=(64, 80)):
    x = torch.as_tensor(np.asarray(images, dtype=np.float32))[:, None]
    return torch.nn.functional.interpolate(x, size=size, mode="bilinear")[:, 0].numpy()


photo = load_sample_image("china.jpg").mean(axis=2) / 255 * 16  # grey, the digits' 0-16
corners = rng.integers(0, [photo.shape[0] - 128, photo.shape[1] - 160], (len(X_test), 2))
large = {
    "held-out digits 0-7": resized(X_test),
    "random noise": rng.uniform(0, 16, (len(X_test), 64, 80)),
    "shuffled pixels": np.array(
        [rng.permutation(d.ravel()).reshape(64, 80) for d in resized(X_test)]
    ),
    "photo crops": resized([photo[r : r + 128, c : c + 160] for r, c in corners]),
    "digits 8 and 9 (never seen)": resized(X[~known]),
}
large = {name: images[:150] for name, images in large.items()}  # 150 of each: a quick page
big = CapsNetClassifier(max_epochs=2, conv_channels=64, primary_types=16, random_state=0)
big.fit(resized(X_train), y_train)
print(big.net_.module_.describe())
print(f"held-out accuracy at 64x80: {big.score(large[normal], y_test[:150]):.2%}")
normal_errors = big.reconstruction_error(large[normal])
normal_relative = big.reconstruction_error(large[normal], relative=True)
for name, data in large.items():
    error = big.reconstruction_error(data)
    line = f"{name:30s} median error {np.median(error):.3f}"
    if name != normal:
        truth = np.r_[np.zeros(len(normal_errors)), np.ones(len(error))]
        relative = big.reconstruction_error(data, relative=True)
        line += (
            f"; ROC AUC {roc_auc_score(truth, np.r_[normal_errors, error]):.3f}, "
            f"relative {roc_auc_score(truth, np.r_[normal_relative, relative]):.3f}"
        )
    print(line)

# %%
# ``relative=True`` measures each error against the input's own contrast, with any
# uniform shift of each channel forgiven: a faint or low-contrast input is judged by its
# own contrast rather than by the training range. On colour images with coloured
# backgrounds, where shuffled pixels mostly keep the background's colour and the plain
# error misses many of them, it is the better detector (see the benchmarks page, "Unusual
# inputs at every size"); the plain error ranks noise higher.

# %%
# What it does not detect: an input the decoder can draw. A blank image, or a digit drawn
# over a plain background brighter than any training image, may reconstruct well; and an
# unseen class close to a known one (a 9 drawn like a 4) reconstructs about as well as the
# classes trained on. In the 64×80 run above, two epochs on smooth upsampled digits, the
# digits 8 and 9 even reconstruct better than the known ones (a ROC AUC under 0.5): unseen
# classes are the case this score is weakest on. The error measures how unlike the
# training images an input is, in the decoder's eyes, not whether the predicted label is
# right.
plt.show()
