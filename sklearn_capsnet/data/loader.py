"""Whole-array datasets and a batch loader that slices them.

skorch's default ``Dataset`` + ``DataLoader`` collate one sample at a time.
Here the data stay whole arrays: a batch is one slice (or one gather when
shuffled), moved to the device in its stored dtype (uint8 images travel as
bytes), scaled to [0, 1] and shifted there.
"""

import math

import numpy as np
import torch
from torch.utils.data import Subset

from ..nn.augment import random_flip, random_shift
from ..nn.device import fits_on_device
from .input_spec import InputSpec

__all__ = ["ArrayDataset", "BatchLoader", "RowReader"]


class RowReader(torch.nn.Module):
    """Rows ``[b, F]`` of ``X``'s values to network input, as the fitted
    :class:`~sklearn_capsnet.data.input_spec.InputSpec` says: ``(row - offset) / scale`` in
    float32, rearranged to channels first.

    A module, so the loaders move it to their device and the ONNX export carries it
    in its graph.
    """

    def __init__(self, spec: InputSpec) -> None:
        super().__init__()
        self.spec = spec
        scale = torch.tensor(np.asarray(spec.scale, np.float32))  # a copy: the spec is read-only
        self.register_buffer("offset", torch.tensor(np.asarray(spec.offset, np.float32)))
        self.register_buffer("inv_scale", 1.0 / scale)

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        x = (rows.float() - self.offset) * self.inv_scale  # [b, F], in [0, 1] on training data
        return self.spec.to_channels_first(x)


class ArrayDataset(torch.utils.data.Dataset):
    """Rows of ``X`` (ndarray or tensor) with optional labels ``y`` and example weights.

    Indexable so that skorch's ``train_split`` helpers (``ValidSplit``) can
    split it; :class:`BatchLoader` reads the arrays directly.
    """

    def __init__(self, X, y=None, weight=None):
        for name, values in (("y", y), ("weight", weight)):
            if values is not None and len(values) != len(X):
                raise ValueError(f"X has {len(X)} rows but {name} has {len(values)}.")
        self.X = X
        self.y = y
        self.weight = weight

    def __len__(self) -> int:
        return len(self.X)

    def __getitem__(self, index):
        return self.X[index], (None if self.y is None else self.y[index])


def _arrays(dataset):
    """The ``(X, y, weight)`` arrays behind an ArrayDataset or a Subset of one."""
    if isinstance(dataset, Subset):
        index = np.asarray(dataset.indices)
        return tuple(None if a is None else a[index] for a in _arrays(dataset.dataset))
    if isinstance(dataset, ArrayDataset):
        return dataset.X, dataset.y, dataset.weight
    raise TypeError(
        "BatchLoader reads ArrayDataset objects (or Subsets of them), "
        f"got {type(dataset).__name__}."
    )


# numpy dtypes torch reads directly; others (uint16, uint32, ...) become float32 per batch
_TORCH_DTYPES = {np.dtype(t) for t in ("bool", "uint8", "int8", "int16", "int32", "int64")} | {
    np.dtype(t) for t in ("float16", "float32", "float64")
}


def _nbytes(array) -> int:
    return array.nbytes if hasattr(array, "nbytes") else array.element_size() * array.nelement()


def _to_tensor(array) -> torch.Tensor:
    if isinstance(array, torch.Tensor):
        return array
    array = np.ascontiguousarray(array)
    if array.dtype not in _TORCH_DTYPES:
        array = array.astype(np.float32)
    if not array.flags.writeable:  # a read-only memmap or view: copy this batch
        array = array.copy()
    return torch.from_numpy(array)


class BatchLoader:
    """Yield ``(X_batch, y_batch)`` tensors on ``device``, scaled and augmented.

    Re-iterable: each pass is one epoch, reshuffled when ``shuffle``. Without
    labels (prediction) the last batch is padded with zero rows to the full batch
    size: every row is then computed in a batch of the same shape, so results do
    not depend on which rows share its batch (kernels pick algorithms by batch
    size, which moves float32 results in the last bits), and shapes stay static
    for compiled models. Callers drop the padded outputs. When the dataset has
    example weights, ``X_batch`` is the pair ``(x, weight)``.

    Parameters
    ----------
    dataset : ArrayDataset or Subset of one
    batch_size : int
    shuffle : bool, default=False
    spec : InputSpec
        How rows become network input: each batch is scaled in float32 and, when
        channels-last, rearranged after the move to the device.
    shift : int, default=0
        Maximum random translation in pixels (0: none).
    flip : bool, default=False
        Mirror each image left-right with probability 1/2.
    device : str or torch.device, default="cpu"
    preload : bool or "auto", default=False
        Move all of ``X`` to ``device`` once instead of one batch at a time
        (memory bounded by the batch size). ``"auto"`` preloads on a GPU when ``X``
        takes at most half of its free memory, and never on the CPU.
    shard : (int, int), default=(0, 1)
        ``(index, count)``: in data-parallel training, process ``index`` of ``count``
        takes batches ``index, index + count, ...`` of the (identically shuffled)
        epoch, the same number on every process.
    """

    def __init__(
        self,
        dataset,
        batch_size: int = 128,
        shuffle: bool = False,
        *,
        spec: InputSpec,
        shift: int = 0,
        flip: bool = False,
        device="cpu",
        preload=False,
        shard=(0, 1),
    ):
        X, y, weight = _arrays(dataset)
        self.device = torch.device(device)
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.input_shape = tuple(spec.shape)
        self.shift = int(shift)
        self.flip = bool(flip)
        self.shard_index, self.shard_count = (int(v) for v in shard)
        if preload == "auto":
            preload = fits_on_device(_nbytes(X), self.device)  # never on the CPU
        self.X = _to_tensor(X).to(self.device) if preload else X
        self.y = None if y is None else _to_tensor(y).to(self.device)
        self.weight = None if weight is None else _to_tensor(weight).to(self.device)
        self.read = RowReader(spec).to(self.device)

    def __len__(self) -> int:
        return math.ceil(len(self.X) / self.batch_size) // self.shard_count

    def _starts(self):
        starts = range(0, len(self.X), self.batch_size)
        if self.shard_count == 1:
            return starts
        return starts[self.shard_index :: self.shard_count][: len(self)]

    def __iter__(self):
        n = len(self.X)
        on = self.X.device if isinstance(self.X, torch.Tensor) else "cpu"
        order = torch.randperm(n, device=on) if self.shuffle else None  # where X is indexed
        for start in self._starts():
            if order is None:
                index = slice(start, start + self.batch_size)
            else:
                index = order[start : start + self.batch_size]
                if not isinstance(self.X, torch.Tensor):
                    index = index.numpy()
            rows = _to_tensor(self.X[index]).to(self.device, non_blocking=True)
            x = self.read(rows)  # [b, F], channels first
            if self.y is None and len(x) < self.batch_size:
                x = torch.nn.functional.pad(x, (0, 0, 0, self.batch_size - len(x)))  # [B, F]
            if self.shift or self.flip:
                images = x.view(-1, *self.input_shape)
                if self.flip:
                    images = random_flip(images)
                x = random_shift(images, self.shift).flatten(1)
            if self.weight is not None:  # skorch hands (x, weight) to infer and get_loss
                x = (x, self.weight[index])
            yield x, (None if self.y is None else self.y[index])
