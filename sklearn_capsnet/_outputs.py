"""What a fitted CapsNet gives back: capsules, decodings, batch by batch."""

import math
import warnings

import numpy as np
import torch
from sklearn.utils._param_validation import validate_parameter_constraints
from sklearn.utils.validation import check_is_fitted

from ._device import flushed_denormals
from ._layout import to_user_layout
from ._loader import ArrayDataset, BatchLoader
from ._validation import as_rows
from .nn import capsule_lengths

__all__ = ["CapsuleOutputsMixin"]

OUTPUT_READBACK = 16  # prediction batches between two copies of results to the host
GPU_PREDICT_BATCH = 1024  # smallest default prediction batch on a GPU


class CapsuleOutputsMixin:
    """Prediction-side methods of the CapsNet estimators (they need ``net_``)."""

    def _map_capsules(self, X, fn, shape=(), dtype=np.float32) -> np.ndarray:
        """Apply ``fn`` to the class capsules of ``X``, batch by batch, into one array.

        ``fn`` maps capsules ``[b, J, D]`` to a tensor of shape ``[b, *shape]``. One
        batch is computed at a time; results are copied to the host every
        ``OUTPUT_READBACK`` batches (each copy waits for the device) into an array
        allocated once, so memory is bounded by the batch size plus the output.
        """
        check_is_fitted(self, "net_")
        X, _, _ = as_rows(self, X, reset=False)  # images checked against fit's
        out = np.empty((len(X), *shape), dtype=dtype)
        done, pending = 0, []
        for capsules in self._capsule_batches(X):
            pending.append(fn(capsules))
            if len(pending) == OUTPUT_READBACK:
                done = _copy_into(out, done, pending)
        _copy_into(out, done, pending)
        return out

    def _check_prediction_params(self) -> None:
        """Validate the hyper-parameters prediction reads, which may change after ``fit``."""
        names = ("predict_batch_size", "mixed_precision", "threshold")
        validate_parameter_constraints(
            {name: self._parameter_constraints[name] for name in names},
            {name: getattr(self, name) for name in names},
            caller_name=type(self).__name__,
        )

    def _prediction_batch_size(self) -> int:
        """``predict_batch_size``, or by default ``batch_size`` (at least 1024 on a GPU)."""
        if self.predict_batch_size is not None:
            return self.predict_batch_size
        if self.device_.startswith("cuda"):
            return max(self.batch_size, GPU_PREDICT_BATCH)
        return self.batch_size

    def _capsule_batches(self, X):
        """Yield the class capsules of validated rows ``X``: ``[b, J, D]`` on ``device_``.

        When the GPU runs out of memory, the remaining rows are retried in batches
        half as large.
        """
        self._check_prediction_params()
        done = 0
        first_size = batch_size = self._prediction_batch_size()
        while True:
            try:
                for capsules in self._forward(X[done:], batch_size):
                    done += len(capsules)
                    yield capsules
                return
            except torch.cuda.OutOfMemoryError:
                if batch_size == 1:
                    raise
                batch_size = max(1, batch_size // 2)
                warnings.warn(
                    f"the device ran out of memory during prediction; retrying with batches "
                    f"of {batch_size}. Set predict_batch_size below {first_size} to avoid this.",
                    ResourceWarning,
                    stacklevel=4,
                )
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()

    def _forward(self, X, batch_size: int):
        """Class capsules of ``X`` through skorch's evaluation step, ``batch_size`` rows a step."""
        loader_params = {
            key.removeprefix("iterator_valid__"): value
            for key, value in self._loader_params().items()
            if key.startswith("iterator_valid__")
        }
        loader = BatchLoader(ArrayDataset(X), batch_size=batch_size, **loader_params)
        remaining = len(X)
        with torch.inference_mode(), flushed_denormals():
            self.net_.precision = self._precision()  # the current setting, also after fit
            for batch in loader:
                capsules = self.net_.evaluation_step(batch)[:remaining]  # last batch: padded
                remaining -= len(capsules)
                yield capsules

    def _active_capsules(self, capsules):
        """0/1 indicators ``[b, J]`` of the capsules longer than ``threshold``."""
        return (capsule_lengths(capsules) > self.threshold).long()

    def capsules(self, X):
        """The class capsules of ``X``: one ``capsule_dim`` vector per class.

        Parameters
        ----------
        X : array-like
            As in :meth:`fit`.

        Returns
        -------
        ndarray of shape (n_samples, n_classes, capsule_dim), float32
            Each vector's length is the presence of its class; its direction, the
            instantiation parameters the decoder draws from.
        """
        check_is_fitted(self, "net_")
        shape = (len(self.classes_), self.capsule_dim)
        return self._map_capsules(X, lambda capsules: capsules, shape)

    def decode(self, capsules, labels=None):
        """Draw inputs from class capsules with the decoder, in the units of ``X``.

        Parameters
        ----------
        capsules : array-like of shape (n_samples, n_classes, capsule_dim)
            As returned by :meth:`capsules`, possibly edited.
        labels : array-like of shape (n_samples,) or (n_samples, n_classes), default=None
            Which capsule to decode from, as indices into ``classes_`` (or 0/1
            indicators of several); None takes the longest (multilabel: those longer
            than ``threshold``).

        Returns
        -------
        ndarray of shape (n_samples, n_features)
        """
        check_is_fitted(self, "net_")
        capsules = torch.as_tensor(np.asarray(capsules, dtype=np.float32), device=self.device_)
        if labels is not None:
            labels = torch.as_tensor(np.asarray(labels), device=self.device_)
        with torch.inference_mode():
            decoded = self._decoded(capsules, labels).float().cpu().numpy()
        return self._in_input_units(decoded)

    def reconstruct(self, X):
        """Decode each sample from its predicted class capsule, in the units of ``X``.

        For multilabel models, from all capsules longer than ``threshold``.

        Parameters
        ----------
        X : array-like
            As in :meth:`fit`.

        Returns
        -------
        ndarray of shape (n_samples, n_features)
            The decoder's output mapped back through ``input_offset_`` and
            ``input_scale_``, in the order of ``X``'s values: reshape rows to
            ``(C, H, W)`` of ``input_shape_``, or to ``(H, W, C)`` when ``data_format_``
            is ``"channels_last"``, to see images.
        """
        check_is_fitted(self, "net_")
        decoded = self._map_capsules(X, self._decoded, (math.prod(self.input_shape_),))
        return self._in_input_units(decoded)

    def _decoded(self, capsules, labels=None):
        """Decoder output ``[b, F]`` in [0, 1]; without labels, from the predicted
        capsule (multilabel: every capsule longer than ``threshold``)."""
        if labels is None and self.multilabel_:
            labels = self._active_capsules(capsules)
        return self.net_.module_.reconstruct(capsules, labels)

    def _in_input_units(self, decoded: np.ndarray) -> np.ndarray:
        """Map decoder output back to the layout and units of ``X``."""
        decoded = to_user_layout(decoded, self.input_shape_, self.data_format_)
        decoded *= self.input_scale_
        decoded += self.input_offset_
        return decoded


def _copy_into(out: np.ndarray, start: int, tensors: list) -> int:
    """Copy ``tensors`` one after the other into ``out[start:]`` and empty the list.

    One copy to the host (one wait for the device) for the whole list. Returns the
    row after the last one written.
    """
    if not tensors:
        return start
    values = torch.cat(tensors).cpu().numpy()
    out[start : start + len(values)] = values
    tensors.clear()
    return start + len(values)
