"""From hyper-parameters to a trained skorch net: building, callbacks, checkpoints, epochs.

The functions take the estimator's parameters as the plain dict ``get_params()``
returns, plus what ``fit`` learnt of the data (the input reading, the number of
outputs, the device); none reads an estimator.
"""

import copy
import functools
import os

import numpy as np
import torch
from sklearn.utils import check_random_state
from skorch.callbacks import Checkpoint, LRScheduler, ProgressBar

from ._callbacks import EpochSeed
from ._device import autocast_dtype, flushed_denormals, seeded
from ._loader import ArrayDataset, BatchLoader
from ._params import module_params, passed_through
from ._trainer import AcceleratedCapsNetTrainer, CapsNetTrainer
from ._validation import is_image
from .nn import CapsNet, CapsuleLoss

__all__ = ["draw_seed", "max_shift", "new_trainer", "resume_from_checkpoint", "train"]

PAPER_SHIFT, PAPER_SIZE = 2, 28

CHECKPOINT_FILES = {
    "f_params": "params.pt",
    "f_optimizer": "optimizer.pt",
    "f_history": "history.json",
}


def max_shift(shift, input_shape) -> int:
    """``shift``, or the paper's 2 pixels scaled to the image; tables are not shifted.

    Examples
    --------
    >>> max_shift(None, (1, 28, 28)), max_shift(None, (1, 8, 8)), max_shift(3, (13, 1, 1))
    (2, 1, 0)
    """
    if not is_image(input_shape):
        return 0
    if shift is not None:
        return shift
    _, height, width = input_shape
    return round(PAPER_SHIFT * min(height, width) / PAPER_SIZE)


def draw_seed(random_state, accelerator=None) -> int:
    """The seed of one fit, drawn from ``random_state`` (the same on every process)."""
    seed = int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
    if accelerator is not None:  # one seed for all processes: the same shuffling
        from accelerate.utils import broadcast_object_list

        seed = broadcast_object_list([seed])[0]
    return seed


def _checkpoint_files(dirname) -> dict:
    """skorch ``Checkpoint`` arguments: every epoch, weights + optimizer + history."""
    return dict(dirname=os.fspath(dirname), monitor=None, f_criterion=None, **CHECKPOINT_FILES)


def _callbacks(params: dict, seed: int) -> list:
    """The user's callbacks (copied: each fit starts afresh) and those parameters ask for."""
    callbacks = copy.deepcopy(list(params["callbacks"] or []))
    callbacks.append(("epoch_seed", EpochSeed(seed)))
    if params["lr_decay"] < 1:
        scheduler = LRScheduler(
            policy=torch.optim.lr_scheduler.ExponentialLR, gamma=params["lr_decay"]
        )
        callbacks.append(("lr_scheduler", scheduler))
    if params["progress_bar"]:
        callbacks.append(("progress_bar", ProgressBar()))
    if params["checkpoint"] is not None:
        callbacks.append(("checkpoint", Checkpoint(**_checkpoint_files(params["checkpoint"]))))
    return callbacks


def new_trainer(params: dict, *, reading, n_outputs: int, device: str, seed: int):
    """A skorch net for these parameters, initialised from ``seed``.

    Parameters
    ----------
    params : dict
        The estimator's ``get_params()``.
    reading : InputReading
        How rows of ``X`` become network input.
    n_outputs : int
        Class capsules.
    device : str
        The resolved device (ignored with an ``accelerator``, which places the model).
    seed : int
    """
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
        module__input_shape=reading.input_shape,
        module__n_classes=n_outputs,
        **module_params(params),
        reading=reading,
        compile=params["compile"],
        precision=autocast_dtype(params["mixed_precision"], device),
        criterion=functools.partial(CapsuleLoss, params["reconstruction_weight"]),
        optimizer=params["optimizer"],
        lr=params["lr"],
        max_epochs=params["max_epochs"],
        batch_size=params["batch_size"],
        dataset=ArrayDataset,
        iterator_train=BatchLoader,
        iterator_train__shuffle=True,
        iterator_train__shift=max_shift(params["shift"], reading.input_shape),
        iterator_train__flip=params["flip"] and is_image(reading.input_shape),
        iterator_train__preload="auto",  # whole data on the GPU when it fits
        **shard,
        iterator_valid=BatchLoader,
        train_split=params["train_split"],
        callbacks=_callbacks(params, seed),
        verbose=params["verbose"],
        **placement,
        **passed_through(params),
    )
    with seeded(seed, device):
        net.initialize()
    return net


def resume_from_checkpoint(net, dirname) -> None:
    """Load weights, optimizer state and history saved in ``dirname`` by an earlier run, if any."""
    files = _checkpoint_files(dirname)
    paths = {key: os.path.join(files["dirname"], files[key]) for key in CHECKPOINT_FILES}
    if not all(os.path.exists(path) for path in paths.values()):
        return
    try:
        net.load_params(**paths)
    except (RuntimeError, ValueError, KeyError) as error:
        raise ValueError(
            f"the checkpoint in {files['dirname']!r} does not fit this model and data "
            f"({str(error).splitlines()[0]}); delete it or pass another checkpoint "
            "directory."
        ) from error


def train(net, X, y, *, epochs: int, seed: int, device: str) -> None:
    """Run skorch's loop for ``epochs`` more epochs (a KeyboardInterrupt ends it early)."""
    if epochs > 0:
        # EpochSeed reseeds inside the block
        with seeded(seed, device), flushed_denormals():
            net.partial_fit(ArrayDataset(X, y), epochs=epochs)
