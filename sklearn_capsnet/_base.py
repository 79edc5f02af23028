"""What the CapsNet estimators share: hyper-parameters, training, capsule outputs.

The estimator is a plain scikit-learn estimator whose ``__init__`` only stores
its arguments. ``fit`` validates them and the data, then builds and trains a
skorch net (:class:`~sklearn_capsnet._trainer.CapsNetTrainer`), kept as
``net_``: skorch runs the training loop, callbacks and history; scikit-learn
sees an estimator with no state outside its fitted attributes.
"""

import copy
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import LRScheduler, ProgressBar

from ._device import resolve_device, seeded
from ._loader import ArrayDataset, BatchLoader
from ._trainer import CapsNetTrainer
from ._validation import as_rows, check_sample_shape, infer_input_shape, input_scaling
from .nn import ROUTINGS, CapsNet, CapsuleLoss

__all__ = ["CapsNetBase"]

# skorch-style nested parameters the estimators pass through to their net
SKORCH_PREFIXES = ("optimizer__", "callbacks__")
PAPER_SHIFT, PAPER_SIZE = 2, 28


class CapsNetBase(BaseEstimator):
    """Base class of the CapsNet estimators; not for direct use."""

    _parameter_constraints: dict = {
        "routing": [StrOptions(set(ROUTINGS))],
        "routing_iterations": [Interval(Integral, 1, None, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "lr_decay": [Interval(Real, 0, 1, closed="right")],
        "reconstruction_weight": [Interval(Real, 0, None, closed="left")],
        "shift": [Interval(Integral, 0, None, closed="left"), None],
        "input_shape": [tuple, list, None],
        "conv_channels": [Interval(Integral, 1, None, closed="left")],
        "primary_types": [Interval(Integral, 1, None, closed="left")],
        "primary_dim": [Interval(Integral, 1, None, closed="left")],
        "capsule_dim": [Interval(Integral, 1, None, closed="left")],
        "decoder_hidden": [tuple, list],
        "optimizer": [callable],
        "callbacks": [list, None],
        "train_split": [callable, None],
        "progress_bar": ["boolean"],
        "verbose": ["verbose"],
        "device": [str, torch.device],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        routing_iterations=3,
        routing="dynamic",
        max_epochs=30,
        batch_size=64,
        lr=1e-3,
        lr_decay=0.95,
        reconstruction_weight=0.0005,
        shift=None,
        input_shape=None,
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
        random_state=None,
        **kwargs,
    ):
        self.routing_iterations = routing_iterations
        self.routing = routing
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.lr_decay = lr_decay
        self.reconstruction_weight = reconstruction_weight
        self.shift = shift
        self.input_shape = input_shape
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
        self.random_state = random_state
        vars(self).update(kwargs)

    # -- parameters -------------------------------------------------------------------------

    def _skorch_params(self) -> dict:
        return {key: value for key, value in vars(self).items() if "__" in key}

    def get_params(self, deep=True):
        """Get parameters, including skorch-style ``optimizer__*`` / ``callbacks__*`` ones."""
        params = super().get_params(deep=deep)
        params.update(self._skorch_params())
        return params

    def set_params(self, **params):
        """Set parameters; ``optimizer__*`` and ``callbacks__*`` reach the skorch net at fit."""
        nested = {key: params.pop(key) for key in list(params) if key.startswith(SKORCH_PREFIXES)}
        vars(self).update(nested)
        return super().set_params(**params)

    def _check_skorch_params(self) -> None:
        for key in self._skorch_params():
            if not key.startswith(SKORCH_PREFIXES):
                raise ValueError(
                    f"{type(self).__name__} got an unknown parameter {key!r}; nested skorch "
                    f"parameters must start with one of {SKORCH_PREFIXES}."
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

    def _max_shift(self) -> int:
        _, height, width = self.input_shape_
        if self.shift is not None:
            return self.shift if height * width > 1 else 0
        return round(PAPER_SHIFT * min(height, width) / PAPER_SIZE)

    def _prepare_training_data(self, X, y):
        """Validate X and y, fix the input geometry, scaling and device; returns (X, y)."""
        self._check_skorch_params()
        self._check_architecture()
        X, y, sample_shape = as_rows(self, X, y, reset=True)
        self.input_shape_ = infer_input_shape(self.input_shape, X.shape[1], sample_shape)
        self.input_offset_, self.input_scale_ = input_scaling(X, self.input_shape_)
        self.device_ = resolve_device(self.device)
        return X, y

    def _validate_more_data(self, X, y):
        """Validate data for more training of a fitted model; returns (X, y_encoded)."""
        X, y, sample_shape = as_rows(self, X, y, reset=False)
        check_sample_shape(self, sample_shape, self.input_shape_)
        return X, self._encode_targets(y, reset=False)

    def _init_net(self) -> None:
        """Build and initialise a new skorch net, seeded from ``random_state``."""
        self._seed_ = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        self.net_ = self._build_net(self._n_outputs())
        with seeded(self._seed_, self.device_):
            self.net_.initialize()

    def _callbacks(self) -> list:
        callbacks = copy.deepcopy(list(self.callbacks or []))
        if self.lr_decay < 1:
            scheduler = LRScheduler(
                policy=torch.optim.lr_scheduler.ExponentialLR, gamma=self.lr_decay
            )
            callbacks.append(("lr_scheduler", scheduler))
        if self.progress_bar:
            callbacks.append(("progress_bar", ProgressBar()))
        return callbacks

    def _build_net(self, n_outputs: int) -> CapsNetTrainer:
        loader = dict(
            input_shape=self.input_shape_,
            offset=self.input_offset_,
            scale=self.input_scale_,
            device=self.device_,
        )
        return CapsNetTrainer(
            module=CapsNet,
            module__input_shape=self.input_shape_,
            module__n_classes=n_outputs,
            module__routing=self.routing,
            module__routing_iterations=self.routing_iterations,
            module__conv_channels=self.conv_channels,
            module__primary_types=self.primary_types,
            module__primary_dim=self.primary_dim,
            module__capsule_dim=self.capsule_dim,
            module__decoder_hidden=tuple(self.decoder_hidden),
            criterion=CapsuleLoss,
            criterion__reconstruction_weight=self.reconstruction_weight,
            optimizer=self.optimizer,
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            dataset=ArrayDataset,
            iterator_train=BatchLoader,
            iterator_train__shuffle=True,
            iterator_train__shift=self._max_shift(),
            iterator_train__preload=self.device_ != "cpu",
            iterator_valid=BatchLoader,
            train_split=self.train_split,
            callbacks=self._callbacks(),
            verbose=self.verbose,
            device=self.device_,
            **{f"iterator_train__{k}": v for k, v in loader.items()},
            **{f"iterator_valid__{k}": v for k, v in loader.items()},
            **self._skorch_params(),
        )

    def _train(self, X, y, epochs: int | None) -> None:
        """Run skorch's loop for ``epochs`` (None: ``max_epochs``) with our seed."""
        done = len(self.net_.history) if self.net_.initialized_ else 0
        seed = (self._seed_ + done) % (2**32)
        with seeded(seed, self.device_):
            self.net_.partial_fit(ArrayDataset(X, y), epochs=epochs or self.max_epochs)
        self.n_iter_ = len(self.net_.history)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Train a new CapsNet on ``X`` and ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), (n_samples, H, W) or (n_samples, C, H, W)
            Images or tabular features; any numeric dtype (uint8 images stay bytes until
            they reach the device).
        y : array-like of shape (n_samples,)
            Class labels of any hashable type.

        Returns
        -------
        self
        """
        X, y = self._prepare_training_data(X, y)
        y = self._encode_targets(y, reset=True)
        self._init_net()
        self._train(X, y, epochs=None)
        return self

    # -- outputs ----------------------------------------------------------------------------

    def _capsule_batches(self, X):
        """Yield the class capsules of ``X`` batch by batch: ``[b, J, D]`` on ``device_``.

        Only one batch is on the device at a time, so memory is bounded by the
        batch size, not by the number of samples.
        """
        check_is_fitted(self, "net_")
        X, _, sample_shape = as_rows(self, X, reset=False)
        check_sample_shape(self, sample_shape, self.input_shape_)
        with torch.inference_mode():
            yield from self.net_.forward_iter(ArrayDataset(X), device=self.device_)

    def reconstruct(self, X):
        """Decode each sample from its predicted class capsule, in the units of ``X``.

        Parameters
        ----------
        X : array-like
            As in :meth:`fit`.

        Returns
        -------
        ndarray of shape (n_samples, n_features_in_)
            The decoder's output mapped back through ``input_offset_`` and
            ``input_scale_``; reshape rows with ``input_shape_`` to see images.
        """
        decoded = []
        for capsules in self._capsule_batches(X):
            decoded.append(self.net_.module_.reconstruct(capsules).float().cpu().numpy())
        return np.concatenate(decoded) * self.input_scale_ + self.input_offset_

    @property
    def history_(self):
        """skorch's training history (one row per epoch: losses, duration, ...)."""
        check_is_fitted(self, "net_")
        return self.net_.history
