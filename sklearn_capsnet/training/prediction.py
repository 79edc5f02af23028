"""Prediction in batches: a function of each batch of network input, mapped into one array.

Everything here takes what it needs as arguments (the skorch net, the function,
the batch size) and knows nothing of the estimators.
"""

import warnings

import numpy as np
import torch

from ..data.loader import ArrayDataset, BatchLoader
from ..nn.device import flushed_denormals

__all__ = ["map_inputs", "prediction_batch_size"]

OUTPUT_READBACK = 16  # prediction batches between two copies of results to the host
GPU_PREDICT_BATCH = 1024  # smallest default prediction batch on a GPU


def prediction_batch_size(predict_batch_size, batch_size: int, device: str) -> int:
    """``predict_batch_size``, or by default ``batch_size`` (at least 1024 on a GPU).

    Examples
    --------
    >>> prediction_batch_size(None, 32, "cpu"), prediction_batch_size(None, 32, "cuda:0")
    (32, 1024)
    """
    if predict_batch_size is not None:
        return predict_batch_size
    if str(device).startswith("cuda"):
        return max(batch_size, GPU_PREDICT_BATCH)
    return batch_size


def map_inputs(net, X, fn, shape=(), dtype=np.float32, *, batch_size):
    """Apply ``fn`` to the rows ``X`` read as network input, batch by batch, into one array.

    ``fn`` maps a batch of network input ``[b, C, H, W]`` (on the net's device) to a
    tensor of shape ``[b, *shape]``, under ``torch.inference_mode``. One batch is
    computed at a time; results are copied to the host every ``OUTPUT_READBACK``
    batches (each copy waits for the device) into an array allocated once, so memory
    is bounded by the batch size plus the output. When the GPU runs out of memory,
    the remaining rows are retried in batches half as large, with a warning that
    names ``predict_batch_size``.
    """
    out = np.empty((len(X), *shape), dtype=dtype)
    done, pending = 0, []
    with torch.inference_mode():
        for result in _batches(net, X, fn, batch_size):
            pending.append(result)
            if len(pending) == OUTPUT_READBACK:
                done = _copy_into(out, done, pending)
        _copy_into(out, done, pending)
    return out


def _batches(net, X, fn, batch_size: int):
    """Yield ``fn`` of the network input of ``X``, ``batch_size`` rows a step (OOM: halved)."""
    done, first_size = 0, batch_size
    while True:
        try:
            for result in _forward(net, X[done:], fn, batch_size):
                done += len(result)
                yield result
            return
        except torch.cuda.OutOfMemoryError:
            if batch_size == 1:
                raise
            batch_size = max(1, batch_size // 2)
            warnings.warn(
                f"the device ran out of memory during prediction; retrying with batches "
                f"of {batch_size}. Set predict_batch_size below {first_size} to avoid this.",
                ResourceWarning,
                stacklevel=6,
            )
            if torch.cuda.is_available():
                torch.cuda.empty_cache()


def _forward(net, X, fn, batch_size: int):
    """``fn`` of ``X`` read as the net reads its data, ``batch_size`` rows a step."""
    loader = BatchLoader(
        ArrayDataset(X), batch_size, spec=net.input_spec, device=net.data_device()
    )
    remaining = len(X)
    with flushed_denormals():
        for x, _ in loader:
            result = fn(x)[:remaining]  # last batch: padded
            remaining -= len(result)
            yield result


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
