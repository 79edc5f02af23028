"""Class labels to capsules: one capsule per class, or per label of a multilabel y.

Plain functions of the estimator: they set ``classes_`` and ``multilabel_`` and read
them back, and name the estimator's class in their messages.
"""

import numpy as np
import pandas as pd
from sklearn.utils.multiclass import check_classification_targets, type_of_target

__all__ = ["check_no_missing", "encode_targets", "set_classes"]


def set_classes(estimator, labels) -> None:
    """``estimator.classes_`` from the labels of a 1-D ``y`` (``multilabel_`` False)."""
    estimator.classes_ = np.unique(labels)
    estimator.multilabel_ = False
    if len(estimator.classes_) < 2:
        label = estimator.classes_[:1].tolist()[0]  # as written: 0, 0.0 or 'cat', not np.int64(0)
        raise ValueError(
            f"{type(estimator).__name__} needs at least 2 classes, but y holds only one "
            f"class: {label!r}. Add samples of another class."
        )


def check_no_missing(y) -> None:
    """A clear error, before any conversion, for labels that are missing: None, NaN or
    ``pd.NA`` (numpy's own error for None is a failed comparison, scikit-learn's for a
    pandas column with NaN does not say it is ``y``)."""
    if y is None:
        return  # no y at all: scikit-learn's own error says so
    labels = np.asarray(y)
    if labels.dtype.kind not in "fcO" or labels.ndim == 0 or labels.size == 0:
        return  # integers, booleans and strings cannot be missing; no labels: none missing
    missing = np.flatnonzero(pd.isna(labels).reshape(len(labels), -1).any(axis=1))
    if missing.size:
        raise ValueError(
            f"y has a missing label (None or NaN) for {missing.size} sample(s), the first "
            f"at position {missing[0]}: every sample needs a label. Drop those samples "
            "(keep = ~pandas.isna(y); X[keep], y[keep]), or give them a label."
        )


def encode_targets(estimator, y, *, reset: bool) -> np.ndarray:
    """Class indices ``[N]`` (int64), or 0/1 label indicators ``[N, J]`` (float32).

    ``reset`` (a new fit) sets ``classes_`` and ``multilabel_`` from ``y``; otherwise
    ``y`` must be of the form and the labels the estimator was fitted on.
    """
    name = type(estimator).__name__
    if y.ndim == 2:
        return _encode_indicators(estimator, y, reset=reset)
    check_classification_targets(y)
    if reset:
        set_classes(estimator, y)
    if estimator.multilabel_:
        raise ValueError(
            f"y holds one label per sample, but {name} was fitted on a "
            "multilabel indicator matrix; pass y of that form."
        )
    unknown = np.setdiff1d(y, estimator.classes_)
    if unknown.size:
        raise ValueError(
            f"y has labels {unknown.tolist()} that are not in classes_ "
            f"{estimator.classes_.tolist()}: the network has one capsule per class, fixed "
            "when it was built; pass every label in `classes` on the first call to "
            "partial_fit."
        )
    return np.searchsorted(estimator.classes_, y).astype(np.int64)


def _encode_indicators(estimator, y, *, reset: bool) -> np.ndarray:
    name = type(estimator).__name__
    kind = type_of_target(y)
    if kind != "multilabel-indicator":
        raise ValueError(
            f"y has shape {y.shape} and holds {kind} targets; {name} takes "
            "one label per sample (1-D y) or a 0/1 multilabel indicator matrix."
        )
    if reset:
        estimator.classes_, estimator.multilabel_ = np.arange(y.shape[1]), True
    elif not estimator.multilabel_ or y.shape[1] != len(estimator.classes_):
        fitted = f"{len(estimator.classes_)} labels" if estimator.multilabel_ else "single labels"
        raise ValueError(
            f"y is an indicator matrix of {y.shape[1]} labels, but {name} "
            f"was fitted on {fitted}; pass y of the same form."
        )
    return np.asarray(y, dtype=np.float32)
