"""What the CapsNet estimators share: hyper-parameters, training, capsule outputs.

The estimator is a plain scikit-learn estimator whose ``__init__`` only stores
its arguments. ``fit`` validates them and the data, then builds and trains a
skorch net (:class:`~sklearn_capsnet._trainer.CapsNetTrainer`), kept as
``net_``: skorch runs the training loop, callbacks and history; scikit-learn
sees an estimator with no state outside its fitted attributes.
"""

import contextlib
import copy
import functools
import os
from numbers import Integral

import numpy as np
import torch
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import Checkpoint, LRScheduler, ProgressBar

from ._callbacks import EpochSeed
from ._device import flushed_denormals, resolve_device, seeded
from ._layout import read_layout
from ._loader import ArrayDataset, BatchLoader
from ._outputs import CapsuleOutputsMixin
from ._params import constraints, module_params
from ._persistence import load_estimator, save_estimator
from ._targets import TargetsMixin
from ._trainer import AcceleratedCapsNetTrainer, CapsNetTrainer
from ._validation import as_rows, input_scaling, is_image
from .nn import CapsNet, CapsuleLoss

__all__ = ["CapsNetBase"]

# skorch-style nested parameters the estimators pass through to their net
SKORCH_PREFIXES = ("optimizer__", "callbacks__", "compile__")
PAPER_SHIFT, PAPER_SIZE = 2, 28
# former names, and what replaced them
RENAMED = {
    "channels_last": (
        'memory_format="channels_last" is the memory format of the convolutions; '
        'data_format="channels_last" reads images held as (n, height, width, channels).'
    ),
}

CHECKPOINT_FILES = {
    "f_params": "params.pt",
    "f_optimizer": "optimizer.pt",
    "f_history": "history.json",
}


def _checkpoint_files(dirname) -> dict:
    """skorch ``Checkpoint`` arguments: every epoch, weights + optimizer + history."""
    return dict(dirname=os.fspath(dirname), monitor=None, f_criterion=None, **CHECKPOINT_FILES)


class CapsNetBase(CapsuleOutputsMixin, TargetsMixin, BaseEstimator):
    """Base class of the CapsNet estimators; not for direct use."""

    _parameter_constraints: dict = constraints("CapsNetClassifier")

    def __init__(
        self,
        *,
        routing_iterations=3,
        routing="dynamic",
        max_epochs=40,
        batch_size=32,
        predict_batch_size=None,
        lr=1e-3,
        lr_decay=0.95,
        reconstruction_weight=0.0005,
        shift=None,
        flip=False,
        input_shape=None,
        data_format="auto",
        conv_channels=256,
        primary_types=32,
        primary_dim=8,
        capsule_dim=16,
        decoder_hidden=(512, 1024),
        optimizer=torch.optim.Adam,
        callbacks=None,
        train_split=None,
        progress_bar=False,
        verbose=0,
        device="auto",
        mixed_precision="auto",
        compile=False,
        memory_format="contiguous",
        threshold=0.5,
        checkpoint=None,
        accelerator=None,
        random_state=None,
        **kwargs,
    ):
        self.routing_iterations = routing_iterations
        self.routing = routing
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.predict_batch_size = predict_batch_size
        self.lr = lr
        self.lr_decay = lr_decay
        self.reconstruction_weight = reconstruction_weight
        self.shift = shift
        self.flip = flip
        self.input_shape = input_shape
        self.data_format = data_format
        self.conv_channels = conv_channels
        self.primary_types = primary_types
        self.primary_dim = primary_dim
        self.capsule_dim = capsule_dim
        self.decoder_hidden = decoder_hidden
        self.optimizer = optimizer
        self.callbacks = callbacks
        self.train_split = train_split
        self.progress_bar = progress_bar
        self.verbose = verbose
        self.device = device
        self.mixed_precision = mixed_precision
        self.compile = compile
        self.memory_format = memory_format
        self.threshold = threshold
        self.checkpoint = checkpoint
        self.accelerator = accelerator
        self.random_state = random_state
        vars(self).update(kwargs)

    # -- parameters -------------------------------------------------------------------------

    def _extra_params(self) -> dict:
        """Keyword parameters beyond the named ones (skorch-style ``optimizer__*``, ...)."""
        named = set(self._get_param_names())
        return {
            key: value
            for key, value in vars(self).items()
            if key not in named and not key.startswith("_") and not key.endswith("_")
        }

    def get_params(self, deep=True):
        """Get parameters, including skorch-style ``optimizer__*`` / ``callbacks__*`` ones."""
        params = super().get_params(deep=deep)
        params.update(self._extra_params())
        return params

    def set_params(self, **params):
        """Set parameters; ``optimizer__*`` and ``callbacks__*`` reach the skorch net at fit.

        Like the constructor, this accepts any other keyword and stores it; :meth:`fit`
        then refuses names it does not know.
        """
        named = set(self._get_param_names())
        extra = {key: params.pop(key) for key in list(params) if key not in named}
        vars(self).update(extra)
        return super().set_params(**params)

    def _check_extra_params(self) -> None:
        for key in self._extra_params():
            if key in RENAMED:
                raise ValueError(
                    f"{type(self).__name__} has no parameter {key!r} any more: {RENAMED[key]}"
                )
            if not key.startswith(SKORCH_PREFIXES):
                raise ValueError(
                    f"{type(self).__name__} got an unknown parameter {key!r}; besides the "
                    f"documented ones, only skorch-style parameters starting with "
                    f"{' or '.join(SKORCH_PREFIXES)} are accepted."
                )

    def _check_architecture(self) -> None:
        if any(not isinstance(h, Integral) or h < 1 for h in self.decoder_hidden):
            raise ValueError(
                f"decoder_hidden={self.decoder_hidden!r} must hold positive layer sizes, "
                "e.g. (512, 1024); use () for a single-layer decoder."
            )
        if self.input_shape is not None and (
            len(self.input_shape) != 3
            or any(not isinstance(v, Integral) or v < 1 for v in self.input_shape)
        ):
            raise ValueError(
                f"input_shape={self.input_shape!r} must be (channels, height, width) of "
                "positive ints, or None to infer it from X."
            )

    # -- fitting ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _unchanged_on_error(self):
        """Put every attribute back as it was if the block raises: a failed call to
        ``fit`` or ``partial_fit`` leaves a fitted estimator exactly as it was."""
        before = dict(vars(self))
        try:
            yield
        except BaseException:
            vars(self).clear()
            vars(self).update(before)
            raise

    def _max_shift(self) -> int:
        """``shift``, or the paper's 2 pixels scaled to the image; tables are not shifted."""
        if not is_image(self.input_shape_):
            return 0
        if self.shift is not None:
            return self.shift
        _, height, width = self.input_shape_
        return round(PAPER_SHIFT * min(height, width) / PAPER_SIZE)

    def _prepare_training_data(self, X, y):
        """Validate X and y, fix the input geometry, scaling and device; returns (X, y)."""
        self._check_extra_params()
        self._check_architecture()
        X, y, sample_shape = as_rows(self, X, y, reset=True)
        self.input_shape_, self.data_format_ = read_layout(
            self, X, sample_shape, input_shape=self.input_shape, data_format=self.data_format
        )
        self.input_offset_, self.input_scale_ = input_scaling(X, self.input_shape_)
        self._prepare_device()
        return X, y

    def _prepare_device(self) -> None:
        if self.accelerator is not None:
            self.device_ = str(self.accelerator.device)  # accelerate places the model
        else:
            self.device_ = resolve_device(self.device)

    def _validate_more_data(self, X, y):
        """Validate data for more training of a fitted model; returns (X, y_encoded)."""
        X, y, _ = as_rows(self, X, y, reset=False)  # images checked against fit's
        return X, self._encode_targets(y, reset=False)

    def _init_net(self) -> None:
        """Build and initialise a new skorch net, seeded from ``random_state``."""
        self._seed_ = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        if self.accelerator is not None:  # one seed for all processes: the same shuffling
            from accelerate.utils import broadcast_object_list

            self._seed_ = broadcast_object_list([self._seed_])[0]
        self.net_ = self._build_net(self._n_outputs())
        with seeded(self._seed_, self.device_):
            self.net_.initialize()

    def _callbacks(self) -> list:
        callbacks = copy.deepcopy(list(self.callbacks or []))
        callbacks.append(("epoch_seed", EpochSeed(self._seed_)))
        if self.lr_decay < 1:
            scheduler = LRScheduler(
                policy=torch.optim.lr_scheduler.ExponentialLR, gamma=self.lr_decay
            )
            callbacks.append(("lr_scheduler", scheduler))
        if self.progress_bar:
            callbacks.append(("progress_bar", ProgressBar()))
        if self.checkpoint is not None:
            callbacks.append(("checkpoint", Checkpoint(**_checkpoint_files(self.checkpoint))))
        return callbacks

    def _precision(self):
        """The autocast dtype for ``mixed_precision`` on ``device_`` (None: float32)."""
        if self.mixed_precision == "bf16":
            return torch.bfloat16
        if self.mixed_precision == "auto" and self.device_.startswith("cuda"):
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
        return None

    def _loader_params(self) -> dict:
        """The BatchLoader arguments of the net, which follow ``device_``."""
        shared = dict(
            input_shape=self.input_shape_,
            data_format=self.data_format_,
            offset=self.input_offset_,
            scale=self.input_scale_,
            device=self.device_,
        )
        params = {f"iterator_train__{k}": v for k, v in shared.items()}
        params.update({f"iterator_valid__{k}": v for k, v in shared.items()})
        params["iterator_train__preload"] = "auto"  # whole data on the GPU when it fits
        if self.accelerator is not None:  # each process trains on its share of every epoch
            shard = (self.accelerator.process_index, self.accelerator.num_processes)
            params["iterator_train__shard"] = shard
        return params

    def _build_net(self, n_outputs: int) -> CapsNetTrainer:
        trainer, placement = CapsNetTrainer, {"device": self.device_}
        if self.accelerator is not None:
            trainer = AcceleratedCapsNetTrainer
            placement = {"accelerator": self.accelerator, "device": None}
        return trainer(
            module=CapsNet,
            module__input_shape=self.input_shape_,
            module__n_classes=n_outputs,
            **module_params(self),
            compile=self.compile,
            precision=self._precision(),
            criterion=functools.partial(CapsuleLoss, self.reconstruction_weight),
            optimizer=self.optimizer,
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            dataset=ArrayDataset,
            iterator_train=BatchLoader,
            iterator_train__shuffle=True,
            iterator_train__shift=self._max_shift(),
            iterator_train__flip=self.flip and is_image(self.input_shape_),
            iterator_valid=BatchLoader,
            train_split=self.train_split,
            callbacks=self._callbacks(),
            verbose=self.verbose,
            **placement,
            **self._loader_params(),
            **self._extra_params(),
        )

    def _resume_from_checkpoint(self) -> None:
        """Load weights, optimizer state and history saved by an earlier run, if any."""
        files = _checkpoint_files(self.checkpoint)
        paths = {key: os.path.join(files["dirname"], files[key]) for key in CHECKPOINT_FILES}
        if not all(os.path.exists(path) for path in paths.values()):
            return
        try:
            self.net_.load_params(**paths)
        except (RuntimeError, ValueError, KeyError) as error:
            raise ValueError(
                f"the checkpoint in {files['dirname']!r} does not fit this model and data "
                f"({str(error).splitlines()[0]}); delete it or pass another checkpoint "
                "directory."
            ) from error

    def _train(self, X, y, epochs: int) -> None:
        """Run skorch's loop for ``epochs`` more epochs (a KeyboardInterrupt ends it early)."""
        if epochs > 0:
            # EpochSeed reseeds inside the block
            with seeded(self._seed_, self.device_), flushed_denormals():
                self.net_.partial_fit(ArrayDataset(X, y), epochs=epochs)
        self.n_iter_ = len(self.net_.history)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Train a new CapsNet on ``X`` and ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or a stack of images
            Images or tabular features; any numeric dtype (uint8 images stay bytes until
            they reach the device). Also a torch tensor or a list of equally sized images
            (arrays, tensors, PIL images). The user guide's "How X is read" says how each
            shape is read (``input_shape``, ``data_format``).
        y : array-like of shape (n_samples,)
            Class labels of any hashable type.

        Returns
        -------
        self
        """
        with self._unchanged_on_error():
            X, y = self._prepare_training_data(X, y)
            y = self._encode_targets(y, reset=True)
            self._init_net()
            if self.checkpoint is not None:
                self._resume_from_checkpoint()
            self._train(X, y, epochs=self.max_epochs - len(self.net_.history))
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None):
        """Train for one more epoch, starting a new model on the first call.

        Parameters
        ----------
        X : array-like
            As in :meth:`fit`.
        y : array-like of shape (n_samples,)
        classes : array-like of shape (n_classes,), default=None
            Every class that will ever appear, read on the first call (one class capsule
            each) and ignored after. None takes the classes of the first ``y``; pass
            ``classes`` when later batches may hold labels the first one lacks.

        Returns
        -------
        self
        """
        with self._unchanged_on_error():
            if not hasattr(self, "net_"):
                X, y = self._prepare_training_data(X, y)
                if classes is None:
                    y = self._encode_targets(y, reset=True)
                else:
                    self._set_classes(np.asarray(classes))
                    y = self._encode_targets(y, reset=False)
                self._init_net()
            else:
                X, y = self._validate_more_data(X, y)
            self._train(X, y, epochs=1)
        return self

    # -- persistence --------------------------------------------------------------------------

    def save(self, path) -> None:
        """Save the fitted model to one safetensors file that loads without unpickling.

        The file holds the network weights, the input scaling and a JSON description
        (hyper-parameters, classes, shapes, a checksum of the tensors). Callbacks,
        ``train_split`` and the optimizer state are not saved: a loaded model predicts,
        and ``partial_fit`` continues with a fresh optimizer. For everything, use
        pickle or joblib, which only load files you trust.

        Parameters
        ----------
        path : str or os.PathLike
            Where to write, conventionally ending in ``.safetensors``.
        """
        check_is_fitted(self, "net_")
        if self.accelerator is not None:  # data-parallel training: the main process writes
            self.accelerator.wait_for_everyone()
            if not self.accelerator.is_main_process:
                return
        save_estimator(self, path)

    @classmethod
    def load(cls, path, device="auto"):
        """Load a model written by :meth:`save`; a tampered or foreign file is refused.

        Parameters
        ----------
        path : str or os.PathLike
        device : str, default="auto"
            Where to put the model: a GPU-trained model loads on a CPU-only machine.

        Returns
        -------
        estimator
            Fitted, predicting exactly as the saved one did.

        Raises
        ------
        ValueError
            When the file is not a sklearn-capsnet model of this class, or its checksum,
            description or tensor shapes do not agree.
        """
        return load_estimator(cls, path, device=device)

    def __setstate__(self, state):
        super().__setstate__(state)
        net = vars(self).get("net_")
        if net is not None and getattr(self, "device_", None) not in (None, str(net.device)):
            # skorch mapped the weights of a GPU-trained net to the CPU: follow it
            self.device_ = str(net.device)
            vars(net).update(self._loader_params())

    @property
    def history_(self):
        """skorch's training history (one row per epoch: losses, duration, ...)."""
        check_is_fitted(self, "net_")
        return self.net_.history
