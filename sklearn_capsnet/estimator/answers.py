"""Batched answers: a function of each batch's class capsules (or network input),
mapped over ``X`` into one array, with memory bounded by the batch.

The estimators' answers (``predict``, ``capsules``, ``reconstruct``, ...) are each
one such function; this mixin validates ``X`` against the fitted input spec (its
shape, and its units: :meth:`~sklearn_capsnet.data.input_spec.InputSpec.check_units` warns
once per call where ``X`` looks like it is in other units than the training data) and
the parameters read at prediction, and hands the work to :mod:`._prediction`.
"""

import numpy as np
from sklearn.utils._param_validation import validate_parameter_constraints
from sklearn.utils.validation import check_is_fitted

from ..data.validation import as_rows
from ..training import prediction as _prediction
from ..training.precision import precision_for
from .params import prediction_names

__all__ = ["PREDICTION_PARAMS", "BatchMappingMixin"]

PREDICTION_PARAMS = prediction_names()  # read at each prediction: they may change after fit


class BatchMappingMixin:
    """``_map_capsules`` and ``_map_inputs``: the one road from ``X`` to an answer."""

    def _map_capsules(self, X, fn, shape=(), dtype=np.float32) -> np.ndarray:
        """Apply ``fn`` to the class capsules of ``X`` (``[b, J, D]`` to ``[b, *shape]``),
        batch by batch, into one array."""
        return self._map_inputs(
            X, lambda x, precision: fn(self.net_.forward_capsules(x, precision)), shape, dtype
        )

    def _map_inputs(self, X, fn, shape=(), dtype=np.float32) -> np.ndarray:
        """Apply ``fn(x, precision)`` to batches ``x`` of network input read from ``X``
        (``[b, C, H, W]`` to ``[b, *shape]``) into one array."""
        check_is_fitted(self, "net_")
        X, _, _ = as_rows(self, X, reset=False, spec=self.input_spec_)
        self.input_spec_.check_units(X, type(self).__name__)  # once per call, on all of X
        validate_parameter_constraints(
            {name: self._parameter_constraints[name] for name in PREDICTION_PARAMS},
            {name: getattr(self, name) for name in PREDICTION_PARAMS},
            caller_name=type(self).__name__,
        )
        batch_size = _prediction.prediction_batch_size(
            self.predict_batch_size, self.batch_size, self.device_
        )
        precision = precision_for(
            self.mixed_precision,
            self.device_,
            self.net_.capsnet(),
            self.input_spec_.shape,
            # the full batch, however many rows this call has: an image's answer must not
            # depend on how many others came with it (a measurement per row count could
            # choose float32 for one and bf16 for another)
            batch_size,
            training=False,
        )
        return _prediction.map_inputs(
            self.net_, X, lambda x: fn(x, precision), shape, dtype, batch_size=batch_size
        )
