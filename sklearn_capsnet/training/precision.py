"""``mixed_precision="auto"`` on a CPU: bf16 only where this machine runs it clearly faster.

Whether bf16 autocast pays on a CPU depends on the CPU, the image size, the batch
size and the work: on one 2-core AMD EPYC with AVX512-BF16 (torch 2.13) a training
step of the paper network on 100 images of 28×28 took 0.61 s in bf16 and 1.15 s in
float32, but prediction on 100 images of 40×40×3 1.11 s in bf16 and 1.04 s in
float32; on a 2-core Xeon without AMX a training step took twice as long in bf16.
No fixed rule is right everywhere, so ``"auto"`` times the network itself, once per
machine for each network, input shape, batch size, kind of work and thread count
(:func:`measured_precision`), and keeps the answer: in the process, and on disk for
later processes (:mod:`.precision_store`).

bf16 is chosen only when float32 takes at least :data:`BF16_MARGIN` times as long:
where the two are close, float32 (the default is then at most 10 % slower than bf16).
Later runs on the machine read the stored answer, hence train the same model for a
fixed ``random_state``. Where nothing is stored (``SKLEARN_CAPSNET_CACHE_DIR=""``, or a
folder that cannot be written) each process measures, and near the margin, or under a
load that changes between runs, the answer can differ, and with it the model (bf16 and
float32 training part ways from the first step): set ``mixed_precision`` to ``"no"`` or
``"bf16"`` for results that must match bit for bit on any machine. Data-parallel
processes take the main process's answer. On a GPU ``"auto"`` is bf16 where the GPU
supports it (:func:`autocast_dtype`).
"""

import copy
import dataclasses
import math
import time

import torch

from ..nn.device import flushed_denormals
from .precision_store import recall, remember

__all__ = [
    "BF16_MARGIN",
    "CPU_BF16_MIN_PIXELS",
    "Measurement",
    "autocast_dtype",
    "cpu_has_native_bf16",
    "measured_precision",
    "precision_for",
    "measurement_for",
    "precision_name",
]

BF16_MARGIN = 1.10
"""bf16 is chosen when a float32 step takes at least this many times a bf16 step."""

CLOSE = 1.15
"""A first pair of timed steps within this factor of :data:`BF16_MARGIN` is timed again."""

CPU_BF16_MIN_PIXELS = 16 * 16
"""``mixed_precision="auto"`` measures on a CPU for images of at least this many pixels.

Below it (the 8×8 digits, tables read as 1×1 images) bf16 was not faster on a 2-core
Xeon with AMX (docs/benchmarks.md, issue 19), and oneDNN's bf16 convolution backward
returns NaN gradients now and then on 1×1 feature maps: float32 there, unmeasured.
"""

_MEASURED: dict = {}  # (network, shape, batch, training, threads) -> Measurement


def cpu_has_native_bf16() -> bool:
    """Whether this CPU does bfloat16 arithmetic in hardware (AVX512-BF16 or AMX).

    Examples
    --------
    >>> isinstance(cpu_has_native_bf16(), bool)
    True
    """
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")  # torch >= 2.3
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in probes)


def autocast_dtype(mixed_precision: str, device: str):
    """The autocast dtype ``mixed_precision`` asks for on ``device`` without measuring
    (None: float32).

    ``"bf16"`` everywhere, ``"no"`` nowhere; ``"auto"`` is bf16 on CUDA GPUs that
    support it and float32 elsewhere: on a CPU :func:`precision_for` may measure
    instead, MPS stays in float32.

    Examples
    --------
    >>> autocast_dtype("bf16", "cpu"), autocast_dtype("auto", "cpu")
    (torch.bfloat16, None)
    """
    if mixed_precision == "bf16":
        return torch.bfloat16
    if mixed_precision == "auto" and torch.device(device).type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    return None


@dataclasses.dataclass(frozen=True)
class Measurement:
    """Seconds of one step (training or prediction) in float32 and in bf16.

    Examples
    --------
    >>> m = Measurement(float32_s=1.0, bf16_s=0.5, batch_size=100, training=True)
    >>> m.dtype, m.describe()
    (torch.bfloat16, 'bf16: a training step of 100 images 2.00x as fast as in float32')
    >>> slower = Measurement(1.0, 0.95, 100, False)  # not clearly faster: float32
    >>> slower.dtype is None, slower.describe()[:46]
    (True, 'float32: in bf16 a prediction batch of 100 ima')
    """

    float32_s: float
    bf16_s: float
    batch_size: int
    training: bool
    stored_on: str | None = None
    """The date an earlier process measured it on this machine (None: this process did)."""

    @property
    def speedup(self) -> float:
        """float32's time over bf16's."""
        return self.float32_s / self.bf16_s

    @property
    def dtype(self):
        """``torch.bfloat16`` when bf16 is clearly faster (:data:`BF16_MARGIN`), else None."""
        return torch.bfloat16 if self.speedup >= BF16_MARGIN else None

    def describe(self) -> str:
        work = "a training step" if self.training else "a prediction batch"
        if self.dtype is None:
            return (
                f"float32: in bf16 {work} of {self.batch_size} images ran at "
                f"{self.speedup:.2f}x float32's speed, under the {BF16_MARGIN:.2f}x needed"
            )
        return (
            f"bf16: {work} of {self.batch_size} images {self.speedup:.2f}x as fast as in float32"
        )


def precision_name(dtype) -> str:
    """``"bf16"`` or ``"float32"``: how the history, ``verbose`` and files name a precision."""
    return "bf16" if dtype == torch.bfloat16 else "float32"


def precision_for(mixed_precision, device, module, input_shape, batch_size, *, training):
    """The autocast dtype (None: float32) to run ``module`` in.

    ``"auto"`` on a CPU with bf16 arithmetic, for images of at least
    :data:`CPU_BF16_MIN_PIXELS` pixels: the measured choice
    (:func:`measurement_for`); everywhere else :func:`autocast_dtype`.

    Parameters
    ----------
    mixed_precision : {"auto", "bf16", "no"}
    device : str
        The resolved device.
    module : torch.nn.Module
        The network: called on images ``[b, *input_shape]``, with a ``reconstruct``
        method for the decoder's part of a training step.
    input_shape : (int, int, int)
    batch_size : int
        Rows per step, as the work will run them.
    training : bool
        A training step (forward, decoder, backward) or a prediction batch.
    """
    measured = measurement_for(
        mixed_precision, device, module, input_shape, batch_size, training=training
    )
    return autocast_dtype(mixed_precision, device) if measured is None else measured.dtype


def measurement_for(mixed_precision, device, module, input_shape, batch_size, *, training):
    """The :class:`Measurement` behind :func:`precision_for`'s answer, or None where it
    does not measure (``mixed_precision`` not ``"auto"``, not a CPU with bf16
    arithmetic, an image under :data:`CPU_BF16_MIN_PIXELS` pixels)."""
    if not _measures(mixed_precision, device, input_shape):
        return None
    return measured_precision(module, input_shape, batch_size, training=training)


def _measures(mixed_precision, device, input_shape) -> bool:
    """Whether ``precision_for`` measures: ``"auto"``, a CPU with bf16 arithmetic, an
    image of at least ``CPU_BF16_MIN_PIXELS`` pixels."""
    if mixed_precision != "auto" or torch.device(device).type != "cpu":
        return False
    _, height, width = input_shape
    return height * width >= CPU_BF16_MIN_PIXELS and cpu_has_native_bf16()


def measured_precision(module, input_shape, batch_size, *, training) -> Measurement:
    """Time ``module`` in float32 and in bf16 on ``batch_size`` random images, once.

    A warm-up step in each precision, then one timed step each, and a second pair
    where the first is close to the margin (:data:`CLOSE`); the fastest of each
    counts. A training step runs on a copy of the module (its
    weights, gradients and running statistics are left alone); prediction in
    evaluation mode without gradients. torch's global random state is not drawn
    from. Kept by network, shape, batch size, work and the number of torch threads,
    in this process and on disk for later ones (:mod:`.precision_store`, which also
    keys by CPU and torch version); the cost is four to six steps of the work
    measured, the first time on a machine.
    """
    module = getattr(module, "_orig_mod", module)  # compile=True: the plain network
    key = (_signature(module), tuple(input_shape), int(batch_size), training)
    key += (torch.get_num_threads(),)
    if key not in _MEASURED:
        stored = recall(key)
        if stored is not None:
            _MEASURED[key] = _from_store(stored, batch_size, training)
    if key not in _MEASURED:
        generator = torch.Generator().manual_seed(0)
        images = torch.rand(batch_size, *input_shape, generator=generator)
        if training:
            net = copy.deepcopy(module).train()
            step = lambda dtype: _training_step(net, images, dtype)  # noqa: E731
        else:
            was_training = module.training
            net = module.eval()
            step = lambda dtype: _prediction_step(net, images, dtype)  # noqa: E731
        try:
            with flushed_denormals():  # as training and prediction run
                measurement = _timed(step, int(batch_size), training)
        finally:
            if not training:
                module.train(was_training)
        about = {
            "input_shape": list(input_shape),
            "batch_size": int(batch_size),
            "work": "training step" if training else "prediction batch",
            "torch_threads": key[-1],
            "network": module.describe() if hasattr(module, "describe") else type(module).__name__,
        }
        first = remember(key, measurement.float32_s, measurement.bf16_s, about)
        if first is not None:  # another process stored its answer first: take that one
            measurement = _from_store(first, batch_size, training)
        _MEASURED[key] = measurement
    return _MEASURED[key]


def _from_store(stored: dict, batch_size, training) -> Measurement:
    """A :class:`Measurement` from a stored entry (:mod:`.precision_store`)."""
    return Measurement(
        float(stored["float32_s"]),
        float(stored["bf16_s"]),
        int(batch_size),
        training,
        stored_on=stored["date"],
    )


def _timed(step, batch_size: int, training: bool) -> Measurement:
    """A warm-up ``step`` in each precision, then timed pairs (a second where the first is
    close to the margin); the fastest of each."""
    times = {None: [], torch.bfloat16: []}
    for dtype in times:
        step(dtype)  # warm-up: allocations, oneDNN primitives
    while True:
        for dtype, seconds in times.items():
            start = time.perf_counter()
            step(dtype)
            seconds.append(time.perf_counter() - start)
        measurement = Measurement(
            min(times[None]), min(times[torch.bfloat16]), batch_size, training
        )
        close = abs(math.log(measurement.speedup / BF16_MARGIN)) < math.log(CLOSE)
        if len(times[None]) > 1 or not close:
            return measurement


def _signature(module) -> tuple:
    """What the speed of a network depends on: its layers as ``repr`` lists them (routing
    iterations included), its tensors' shapes and their memory format."""
    shapes = tuple((name, tuple(p.shape)) for name, p in module.named_parameters())
    return (repr(module), shapes, getattr(module, "channels_last", None))


def _training_step(module, images, dtype) -> None:
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype is not None):
        capsules = module(images)
        drawn = module.reconstruct(capsules)
    loss = capsules.float().square().sum() + drawn.float().square().sum()
    loss.backward()
    module.zero_grad(set_to_none=True)


def _prediction_step(module, images, dtype) -> None:
    with torch.inference_mode():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype is not None):
            module(images)
