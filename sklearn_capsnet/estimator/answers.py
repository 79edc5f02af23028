"""Batched answers: a function of each batch's class capsules (or network input),
mapped over ``X`` into one array, with memory bounded by the batch.

The estimators' answers (``predict``, ``capsules``, ``reconstruct``, ...) are each
one such function; :func:`map_inputs` validates ``X`` against the fitted input spec
(its shape, and its units:
:meth:`~sklearn_capsnet.data.input_spec.InputSpec.check_units` warns once per call
where ``X`` looks like it is in other units than the training data) and the
parameters read at prediction, and hands the work to
:mod:`~sklearn_capsnet.training.prediction`. Plain functions of the fitted
estimator, not a mixin: the methods that answer call them.
"""

import numpy as np
from sklearn.utils._param_validation import validate_parameter_constraints
from sklearn.utils.validation import check_is_fitted

from ..data.validation import as_rows
from ..training import prediction as _prediction
from ..training.precision import precision_for
from .params import prediction_names

__all__ = ["PREDICTION_PARAMS", "map_capsules", "map_inputs"]

PREDICTION_PARAMS = prediction_names()  # read at each prediction: they may change after fit


def map_capsules(estimator, X, fn, shape=(), dtype=np.float32) -> np.ndarray:
    """Apply ``fn`` to the fitted ``estimator``'s class capsules of ``X`` (``[b, J, D]``
    to ``[b, *shape]``), batch by batch, into one array."""
    return map_inputs(
        estimator,
        X,
        lambda x, precision: fn(estimator.net_.forward_capsules(x, precision)),
        shape,
        dtype,
    )


def map_inputs(estimator, X, fn, shape=(), dtype=np.float32) -> np.ndarray:
    """Apply ``fn(x, precision)`` to batches ``x`` of network input read from ``X``
    (``[b, C, H, W]`` to ``[b, *shape]``) into one array."""
    check_is_fitted(estimator, "net_")
    X, _, _ = as_rows(estimator, X, reset=False, spec=estimator.input_spec_)
    estimator.input_spec_.check_units(X, type(estimator).__name__)  # once per call, on all of X
    validate_parameter_constraints(
        {name: estimator._parameter_constraints[name] for name in PREDICTION_PARAMS},
        {name: getattr(estimator, name) for name in PREDICTION_PARAMS},
        caller_name=type(estimator).__name__,
    )
    batch_size = _prediction.prediction_batch_size(
        estimator.predict_batch_size, estimator.batch_size, estimator.device_
    )
    precision = precision_for(
        estimator.mixed_precision,
        estimator.device_,
        estimator.net_.capsnet(),
        estimator.input_spec_.shape,
        # the full batch, however many rows this call has: an image's answer must not
        # depend on how many others came with it (a measurement per row count could
        # choose float32 for one and bf16 for another)
        batch_size,
        training=False,
    )
    return _prediction.map_inputs(
        estimator.net_, X, lambda x: fn(x, precision), shape, dtype, batch_size=batch_size
    )
