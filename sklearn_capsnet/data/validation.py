"""From user data (arrays, DataFrames, image stacks) to checked 2-D arrays.

Everything here raises before any training starts, with a message that names
the problem and what to do about it.
"""

import math

import numpy as np
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.validation import _check_sample_weight, column_or_1d, validate_data

from .arrays import as_array, check_stack, sample_shape
from .input_spec import check_float32_range
from .targets import check_no_missing

__all__ = ["as_rows", "example_weights"]


def as_rows(estimator, X, y="no_validation", *, reset: bool, spec=None):
    """Validate ``X`` (and ``y``) and return ``X`` as rows of features.

    Image stacks ``(n, H, W)``, ``(n, C, H, W)`` or ``(n, H, W, C)`` (arrays,
    memmaps, tensors, or lists of images: see :mod:`~sklearn_capsnet.data.arrays`) are flattened to
    rows in their own order (a view where possible, so memmaps stay on disk);
    their sample shape is returned too. When predicting (``reset=False``), the
    fitted input ``spec`` checks them first (:meth:`InputSpec.check_images`).
    ``n_features_in_`` and ``feature_names_in_`` are set (``reset=True``) or
    checked, as scikit-learn does. The range of values is checked for float32 at
    prediction here; at ``fit``, where ``X``'s range is read anyway, by the spec.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        Of a numeric dtype, not converted here: batches become float32 one at a time
        on the device, so a large uint8 or float64 memmap is never copied whole.
    y : ndarray or None
        None unless ``y`` was given (training); a missing ``y`` in training is an error.
    sample_shape : tuple or None
        ``X.shape[1:]`` for arrays of more than two dimensions
        (:func:`~sklearn_capsnet.data.arrays.sample_shape`).
    """
    X = as_array(X)
    check_stack(X)
    if spec is not None and isinstance(X, np.ndarray) and X.ndim >= 2:
        spec.check_images(X.shape, type(estimator).__name__)  # before the feature count
    one_sample = sample_shape(X)
    if one_sample is not None:
        X = X.reshape(X.shape[0], math.prod(one_sample))
    common = dict(
        reset=reset,
        accept_sparse=False,
        dtype="numeric",
        ensure_all_finite=True,
        ensure_min_features=1,
    )
    if isinstance(y, str) and y == "no_validation":
        X, y = validate_data(estimator, X, **common), None
    else:
        check_no_missing(y)
        X, y = validate_data(estimator, X, y, multi_output=True, **common)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)  # a column vector: one label per sample
    if not reset and X.dtype.kind == "f" and X.dtype.itemsize > 4:
        check_float32_range(X, _overall(X), type(estimator).__name__)
    return X, y, one_sample


def example_weights(estimator, X, y, sample_weight, *, incremental=False, labels=None):
    """Each example's training weight, from ``sample_weight`` and ``class_weight``.

    Returns None when neither is given (every weight 1), else a float32 array of
    ``len(X)`` non-negative weights, ``sample_weight`` times the class weights.
    ``class_weight="balanced"`` needs all labels at once, so ``partial_fit``
    (``incremental``) refuses it. A dict may name only ``labels`` (default: those
    of ``y``; ``partial_fit`` passes every class); other labels weigh 1.
    """
    class_weight = estimator.class_weight
    if sample_weight is None and class_weight is None:
        return None
    name = type(estimator).__name__
    weight = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
    if class_weight is not None:
        if y.ndim == 2:
            raise ValueError(
                f"{name}: class_weight weighs one label per sample, but y is a multilabel "
                "indicator matrix; pass sample_weight instead."
            )
        if incremental and isinstance(class_weight, str):
            raise ValueError(
                f"{name}.partial_fit cannot use class_weight='balanced', which needs all "
                "labels at once: compute the weights on all of y with "
                "sklearn.utils.class_weight.compute_class_weight and pass them as a dict "
                "{label: weight}."
            )
        if isinstance(class_weight, dict):
            _check_class_weight(name, class_weight, np.unique(y) if labels is None else labels)
            per_class = np.vectorize(lambda label: class_weight.get(label, 1.0), otypes=[float])
            weight = weight * per_class(y)
        else:
            weight = weight * compute_sample_weight(class_weight, y)
    return weight.astype(np.float32)


def _check_class_weight(name: str, class_weight: dict, labels) -> None:
    labels = set(np.asarray(labels).tolist())
    unknown = [label for label in class_weight if label not in labels]
    if unknown:
        raise ValueError(
            f"{name}: class_weight has labels {unknown} that are not among the classes "
            f"{sorted(labels, key=str)}; weigh only labels that occur in y."
        )
    bad = {label: w for label, w in class_weight.items() if not (np.isfinite(w) and w >= 0)}
    if bad:
        raise ValueError(
            f"{name}: class_weight must hold finite weights >= 0, got {bad}; a weight of 0 "
            "leaves a class out of the loss."
        )


def _overall(X) -> tuple[float, float]:
    """The smallest and largest value of ``X``; min and max stream over it (a memmap
    stays on disk), where ``np.abs(X)`` would copy it."""
    return (float(X.min()), float(X.max())) if X.size else (0.0, 0.0)
