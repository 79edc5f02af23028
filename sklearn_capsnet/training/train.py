"""From hyper-parameters to a trained skorch net: building, callbacks, checkpoints, epochs.

The functions take the estimator's parameters as the plain dict ``get_params()``
returns, plus what ``fit`` learnt of the data (the input spec, the number of
outputs, the device); none reads an estimator. skorch is configured through its
own parameters (``criterion__*``, ``iterator_train__*``, ``set_params``).
"""

import contextlib
import copy
import signal
import threading
import warnings

import numpy as np
import torch
from sklearn.utils import check_random_state
from skorch.callbacks import EpochScoring
from skorch.dataset import ValidSplit
from skorch.history import History

from ..data.loader import ArrayDataset, BatchLoader
from ..nn import ROUTINGS, CapsNet, CapsuleLoss
from ..nn.capsnet import PAPER_SIZE
from ..nn.device import flushed_denormals, seeded
from .callbacks import EpochProgressBar, EpochSeed, ExponentialDecay, StopOnPlateau
from .checkpoint import AtomicCheckpoint
from .precision import autocast_dtype, measurement_for, precision_name
from .threads import FreeCoreThreads, kept_threads
from .trainer import AcceleratedCapsNetTrainer, CapsNetTrainer

__all__ = ["draw_seed", "max_shift", "new_trainer", "restored_on_error", "train"]

VALID_SCORE = "valid_acc"  # the history column of the early-stopping score

PAPER_SHIFT = 2  # pixels of a PAPER_SIZE image


def max_shift(shift, spec) -> int:
    """``shift``, or the paper's 2 pixels (scaled down on images under 28 pixels, never
    up); tables are not shifted.

    Scaled up with the side, the shift grew with the canvas, not with the object: 11
    pixels at 160×160, where a 28-pixel garment centred on the canvas moved by 40 % of
    its size, and garments upsampled to 160 px trained 3 points worse than with 2
    pixels (Fashion-MNIST, 3 epochs; docs/benchmarks.md, "Accuracy against size").

    Examples
    --------
    >>> from sklearn_capsnet.data.input_spec import InputSpec
    >>> def spec(shape):
    ...     return InputSpec(shape, "channels_first", None, None)
    >>> [max_shift(None, spec((1, side, side))) for side in (8, 28, 64, 224)]
    [1, 2, 2, 2]
    >>> max_shift(3, spec((13, 1, 1)))
    0
    """
    if not spec.is_image:
        return 0
    if shift is not None:
        return shift
    _, height, width = spec.shape
    return round(PAPER_SHIFT * min(height, width, PAPER_SIZE) / PAPER_SIZE)


def draw_seed(random_state, accelerator=None) -> int:
    """The seed of one fit, drawn from ``random_state`` (the same on every process)."""
    seed = int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
    if accelerator is not None:  # one seed for all processes: the same shuffling
        from accelerate.utils import broadcast_object_list

        seed = broadcast_object_list([seed])[0]
    return seed


def _callbacks(params: dict, seed: int) -> list:
    """The user's callbacks (copied: each fit starts afresh) and those parameters ask for."""
    callbacks = copy.deepcopy(list(params["callbacks"] or []))
    if params["early_stopping"]:  # first, so that the user's callbacks can read the score
        callbacks.insert(0, (VALID_SCORE, _validation_scoring()))
    callbacks.append(("epoch_seed", EpochSeed(seed)))
    callbacks.append(("free_cores", FreeCoreThreads()))  # CPU threads on a busy machine
    if params["lr_decay"] < 1:
        decay = ExponentialDecay(
            policy=torch.optim.lr_scheduler.ExponentialLR, gamma=params["lr_decay"]
        )
        callbacks.append(("lr_scheduler", decay))
    if params["progress_bar"]:
        callbacks.append(("progress_bar", EpochProgressBar()))
    if params["checkpoint"] is not None:
        callbacks.append(("checkpoint", AtomicCheckpoint(params["checkpoint"])))
    if params["early_stopping"]:
        callbacks.append(("early_stopping", _early_stopping(params)))
    return callbacks


def _validation_scoring():
    """The held-out rows' accuracy after each epoch, as ``valid_acc`` (and ``valid_acc_best``)."""
    return EpochScoring("accuracy", lower_is_better=False, name=VALID_SCORE)


def _early_stopping(params: dict):
    """Stop after ``n_iter_no_change`` epochs without a rise of ``tol``; keep the best weights."""
    return StopOnPlateau(VALID_SCORE, patience=params["n_iter_no_change"], tol=params["tol"])


def check_hold_out(split, params: dict, y) -> None:
    """Refuse, before anything is built or drawn, an early-stopping hold-out that cannot
    be drawn from ``y``.

    Tries the fit's own split (:func:`hold_out`) on the labels alone, with a fixed seed
    (whether the classes can be stratified does not depend on it).
    """
    if not params["early_stopping"] or params["train_split"] is not None:
        return
    probe = copy.copy(split)
    probe.random_state = 0
    try:
        probe(ArrayDataset(np.empty((len(y), 0)), y), y)
    except ValueError as error:
        raise ValueError(
            f"early_stopping=True cannot hold out validation_fraction="
            f"{params['validation_fraction']} of these {len(y)} rows ({error}); use "
            "another validation_fraction, more rows, or early_stopping=False."
        ) from None


def without_early_stopping(net) -> None:
    """Let a net built with ``early_stopping`` train on every row (``partial_fit``):
    no hold-out, no scoring of it, no stopping, through skorch's ``set_params``."""
    if isinstance(dict(net.callbacks_).get("early_stopping"), StopOnPlateau):
        off = {"callbacks__early_stopping": None, f"callbacks__{VALID_SCORE}": None}
        net.set_params(train_split=None, **off)
        net.initialize_callbacks()  # set_params leaves the switched-off ones in callbacks_


def hold_out(params: dict, multilabel: bool):
    """The user's ``train_split``, or early stopping's hold-out (stratified for classes):
    the one split of the fit. :func:`new_trainer` seeds the hold-out with the fit's seed."""
    if not params["early_stopping"]:
        return params["train_split"]
    if params["train_split"] is not None:
        raise ValueError(
            "early_stopping=True holds out validation_fraction of the data itself; pass "
            "train_split=None with it, or early_stopping=False and your own EarlyStopping "
            "callback with train_split."
        )
    return ValidSplit(params["validation_fraction"], stratified=not multilabel)


def new_trainer(
    params: dict,
    *,
    network: dict,
    keywords: dict,
    input_spec,
    n_outputs: int,
    multilabel: bool,
    train_split,
    device: str,
    seed: int,
):
    """A skorch net for these parameters, initialised from ``seed``.

    Parameters
    ----------
    params : dict
        The estimator's ``get_params()``.
    network : dict
        The network's arguments as skorch's ``module__*`` keywords.
    keywords : dict
        The user's skorch-style keywords (``optimizer__*``, ...), passed on as they are.
    input_spec : InputSpec
        How rows of ``X`` become network input.
    n_outputs : int
        Class capsules.
    multilabel : bool
        Whether targets are 0/1 indicators of several labels.
    train_split : callable or None
        :func:`hold_out`'s split; early stopping's is seeded here with ``seed``.
    device : str
        The resolved device (ignored with an ``accelerator``, which places the model).
    seed : int
    """
    if params["early_stopping"]:  # the hold-out draws from the fit's seed
        train_split.random_state = seed
    trainer, placement = CapsNetTrainer, {"device": device}
    if params["accelerator"] is not None:
        trainer = AcceleratedCapsNetTrainer
        placement = {"accelerator": params["accelerator"], "device": None}
    shard = {}
    if params["accelerator"] is not None:  # each process trains on its share of every epoch
        accelerator = params["accelerator"]
        shard["iterator_train__shard"] = (accelerator.process_index, accelerator.num_processes)
    net = trainer(
        module=CapsNet,
        module__input_shape=input_spec.shape,
        module__n_classes=n_outputs,
        **network,
        input_spec=input_spec,
        multilabel=multilabel,
        threshold=params["threshold"],
        compile=params["compile"],
        # settled before each training (:func:`train`), where "auto" may measure
        precision=autocast_dtype(params["mixed_precision"], device),
        criterion=CapsuleLoss,
        criterion__reconstruction_weight=params["reconstruction_weight"],
        criterion__objective=ROUTINGS[params["routing"]].objective,
        optimizer=params["optimizer"],
        lr=params["lr"],
        max_epochs=params["max_epochs"],
        batch_size=params["batch_size"],
        dataset=ArrayDataset,
        iterator_train=BatchLoader,
        iterator_train__shuffle=True,
        iterator_train__shift=max_shift(params["shift"], input_spec),
        iterator_train__flip=params["flip"] and input_spec.is_image,
        iterator_train__preload="auto",  # whole data on the GPU when it fits
        **shard,
        iterator_valid=BatchLoader,
        train_split=train_split,
        callbacks=_callbacks(params, seed),
        verbose=params["verbose"],
        **placement,
        **{**_fused_adam(params["optimizer"], keywords, device), **keywords},  # the user's win
    )
    with seeded(seed, device):
        net.initialize()
    return net


def _fused_adam(optimizer, keywords: dict, device: str) -> dict:
    """``optimizer__fused=True`` for torch's Adam and AdamW on CPUs and CUDA GPUs.

    One fused kernel per step instead of a loop over the parameter tensors: on the
    paper network (8.2 M parameters, 2-core Xeon) 5 ms a step instead of 35 ms, the
    same update up to rounding. ``optimizer__fused=False`` (or ``optimizer__foreach``)
    in the estimator's keywords keeps torch's default.
    """
    if optimizer not in (torch.optim.Adam, torch.optim.AdamW):
        return {}
    if "optimizer__foreach" in keywords or torch.device(device).type not in ("cpu", "cuda"):
        return {}
    return {"optimizer__fused": True}


def trained_before(net, rows: list, lr_decay: float) -> None:
    """A new net as the one that trained the epochs of ``rows`` (a loaded model): its
    history holds those rows (an epoch's numbers and strings, no batches), and its
    optimizer the learning rate of the next epoch, as ``lr_decay`` gives it, so that
    ``partial_fit`` goes on counting epochs and decaying the rate from there."""
    net.history = History([{**row, "batches": []} for row in rows])
    for group in net.optimizer_.param_groups:
        group.setdefault("initial_lr", group["lr"])  # what a scheduler resumed reads
        group["lr"] = group["initial_lr"] * lr_decay ** len(rows)


@contextlib.contextmanager
def restored_on_error(net):
    """Put the net's weights, optimizer state and history back if the block raises: a
    failed ``partial_fit`` (a checkpoint that cannot be written, a NaN loss) leaves the
    model as it was, as a failed ``fit`` does."""
    module = copy.deepcopy(net.module_.state_dict())
    optimizer = copy.deepcopy(net.optimizer_.state_dict())
    history = copy.deepcopy(net.history)
    try:
        yield
    except BaseException:
        net.module_.load_state_dict(module)
        net.optimizer_.load_state_dict(optimizer)
        net.history = history
        raise


def train(
    net, X, y, weight=None, *, epochs: int, seed: int, device: str, mixed_precision="no"
) -> None:
    """Run skorch's loop for ``epochs`` more epochs, under ``mixed_precision``.

    The precision is settled first
    (:func:`~sklearn_capsnet.training.precision.precision_for`: ``"auto"`` on a CPU
    measures once per machine) and each epoch's history row records it.
    Ctrl-C ends training at the end of the current batch: the history keeps the
    finished epochs only, and a warning says how many there are. (A second Ctrl-C
    interrupts at once.)
    """
    if epochs <= 0:
        return
    shape = net.input_spec.shape
    rows = min(net.batch_size, len(X))  # the batches this training runs
    accelerator = getattr(net, "accelerator", None)
    parallel = accelerator is not None and accelerator.num_processes > 1
    measured = None
    if not parallel or accelerator.is_main_process:  # the others would compete for the cores
        measured = measurement_for(
            mixed_precision, device, net.capsnet(), shape, rows, training=True
        )
    precision = autocast_dtype(mixed_precision, device) if measured is None else measured.dtype
    if parallel:  # the main process's
        from accelerate.utils import broadcast_object_list

        precision = broadcast_object_list([precision])[0]
    net.precision = precision
    last_epoch = len(net.history) + epochs
    bar = dict(net.callbacks_).get("progress_bar")
    if isinstance(bar, EpochProgressBar):
        bar.last_epoch = last_epoch
    if net.verbose:
        if not getattr(net, "described", False):  # a new or resumed network: what was built
            print(f"Network: {net.capsnet().describe()}.", flush=True)
            net.described = True
        print(
            f"Training epochs {len(net.history) + 1}-{last_epoch} on {net.data_device()} "
            f"in {_said_precision(net.precision, measured)}: "
            f"{len(X)} rows, batches of {net.batch_size}.",
            flush=True,
        )
    # EpochSeed reseeds inside the block
    with seeded(seed, device), flushed_denormals(), _ctrl_c_ends_the_batch(net), kept_threads():
        net.partial_fit(ArrayDataset(X, y, weight), y, epochs=epochs)  # y: stratified splits
    # a fitted network answers as in evaluation, also called directly as ``net_.module_``
    # (a front end's BatchNorm: with its running statistics, which answers leave alone)
    net._set_training(False)
    _same_buffers_everywhere(net)
    history = net.history
    unfinished = len(history) > 0 and "train_loss" not in history[-1]
    if unfinished:  # skorch swallowed a KeyboardInterrupt inside an epoch
        history.pop()
    if net.stop_requested or unfinished:
        net.stop_requested = False
        warnings.warn(
            f"training was interrupted after {len(history)} finished epoch(s); the model "
            "keeps the weights of the last batch trained. fit again to start over, or "
            "partial_fit to train on.",
            UserWarning,
            stacklevel=5,
        )


def _said_precision(precision, measured) -> str:
    """The training precision as ``verbose=1`` says it, with the measurement behind it
    when that chose it (not where a data-parallel main process decided otherwise)."""
    if measured is not None and measured.dtype == precision:
        when = "here" if measured.stored_on is None else f"on this machine {measured.stored_on}"
        return f"{measured.describe()} (mixed_precision='auto', measured {when})"
    return precision_name(precision)


def _same_buffers_everywhere(net) -> None:
    """Data-parallel: every process takes the main process's running statistics.

    Gradients are averaged, so the weights agree; a BatchNorm's running statistics
    are each process's own since the last forward pass (DDP copies the main
    process's before each), so without this the copies would answer differently.
    """
    accelerator = getattr(net, "accelerator", None)
    if accelerator is None or accelerator.num_processes == 1:
        return
    for buffer in net.module_.buffers():
        torch.distributed.broadcast(buffer, src=0)


@contextlib.contextmanager
def _ctrl_c_ends_the_batch(net):
    """While training, a first Ctrl-C asks the net to stop after the current batch.

    Only where Ctrl-C has Python's default meaning: a process that ignores SIGINT
    (``nohup``, a background job) or handles it itself keeps its own handling.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers belong to the main thread; Ctrl-C stops where it lands
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous is not signal.default_int_handler:
        yield
        return

    def request_stop(signum, frame):
        net.stop_requested = True
        signal.signal(signal.SIGINT, previous)  # a second Ctrl-C interrupts at once

    net.stop_requested = False
    signal.signal(signal.SIGINT, request_stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
