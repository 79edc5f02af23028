"""Fitting: ``fit`` and ``partial_fit``, which leave the estimator as it was on failure.

``fit`` validates the parameters and the data, reads the input spec
(:class:`~sklearn_capsnet.data.input_spec.InputSpec`) and the classes, then builds and
trains a skorch net (:mod:`~sklearn_capsnet.training.train`), kept as ``net_``: skorch runs the
training loop, callbacks and history. A failed call puts every attribute back.
"""

import contextlib

import numpy as np
from sklearn.base import _fit_context
from sklearn.utils.validation import check_is_fitted

from ..data.arrays import is_pil_with_bands
from ..data.input_spec import InputSpec
from ..data.targets import encode_targets, set_classes
from ..data.validation import as_rows, example_weights
from ..nn.device import resolve_device
from ..training import train as _training
from ..training.checkpoint import resume
from ..training.fit_record import fit_record
from ..training.folder_lock import folder_lock
from .params import (
    check_keyword,
    check_values,
    module_params,
    passed_through,
    resumable_names,
)
from .set_params import extra_params

__all__ = ["FittingMixin", "built", "start_net"]


def built(estimator, name: str):
    """Network parameter ``name`` as ``fit`` built the fitted network (skorch keeps it as
    ``module__<name>`` on the net): a ``set_params`` since acts at the next ``fit``, so a
    fitted model answers as fitted until then. The one reader of that snapshot."""
    return getattr(estimator.net_, f"module__{name}")


class FittingMixin:
    """``fit``, ``partial_fit`` and what they leave: ``input_spec_``, ``net_``, the history."""

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

    def _prepare_training_data(self, X, y):
        """Validate the parameters, X and y; fix the input geometry and scaling."""
        for key in extra_params(self):
            check_keyword(type(self).__name__, key)
        check_values(type(self).__name__, self.get_params(deep=False))
        data_format = self.data_format
        if data_format == "auto" and is_pil_with_bands(X):
            data_format = "channels_last"  # what PIL images are, small ones too
        X, y, sample_shape = as_rows(self, X, y, reset=True)
        self.input_spec_ = InputSpec.from_training_data(
            X,
            sample_shape,
            input_shape=self.input_shape,
            data_format=data_format,
            name=type(self).__name__,
        )
        return X, y

    def _train(self, X, y, weight, epochs: int) -> None:
        _training.train(
            self.net_,
            X,
            y,
            weight,
            epochs=epochs,
            seed=self._seed_,
            device=self.device_,
            mixed_precision=self.mixed_precision,
        )
        self.n_iter_ = len(self.net_.history)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Train a new CapsNet on ``X`` and ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or a stack of images
            Images or tabular features; any numeric dtype (uint8 images stay bytes until
            they reach the device). Also a torch tensor or a list of equally sized images
            (arrays, tensors, PIL images). The user guide's "How X is read" says how each
            shape is read (``input_shape``, ``data_format``).
        y : array-like of shape (n_samples,)
            Class labels of any one hashable type.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each example, multiplied with ``class_weight``'s. Each
            example's classification loss and reconstruction error count that many times (the
            batch loss is the mean of weighted terms). None: all 1.

        Returns
        -------
        self
        """
        with self._unchanged_on_error():
            X, y = self._prepare_training_data(X, y)
            weight = example_weights(self, X, y, sample_weight)
            y = encode_targets(self, y, reset=True)
            start_net(self, y=y)
            with folder_lock(self.checkpoint, self.accelerator):  # one writer per folder
                if self.checkpoint is not None:
                    params = self.get_params(deep=False)
                    self.net_.checkpoint_fit = fit_record(params, resumable_names(), X, y, weight)
                    resume(self.net_, self.checkpoint)
                self._train(X, y, weight, epochs=self.max_epochs - len(self.net_.history))
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
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
        sample_weight : array-like of shape (n_samples,), default=None
            As in :meth:`fit`; ``class_weight`` must be None or a dict here.

        Returns
        -------
        self
        """
        with self._unchanged_on_error():
            fitted = hasattr(self, "net_")
            if not fitted:
                X, y = self._prepare_training_data(X, y)
                labels = None if classes is None else np.asarray(classes)
                weight = example_weights(
                    self, X, y, sample_weight, incremental=True, labels=labels
                )
                if classes is None:
                    y = encode_targets(self, y, reset=True)
                else:
                    set_classes(self, np.asarray(classes))
                    y = encode_targets(self, y, reset=False)
                start_net(self, incremental=True)
                self.net_.checkpoint_fit = fit_record(
                    self.get_params(deep=False), resumable_names()
                )
            else:
                X, y, weight = self._validate_more_data(X, y, sample_weight)
                _training.without_early_stopping(self.net_)
            # the net is trained in place: put it back too if this call fails
            kept = _training.restored_on_error(self.net_) if fitted else contextlib.nullcontext()
            with folder_lock(self.checkpoint, self.accelerator), kept:
                self._train(X, y, weight, epochs=1)
        return self

    def _validate_more_data(self, X, y, sample_weight):
        """Validate data for more training of a fitted model; returns (X, y_encoded, weight)."""
        X, y, _ = as_rows(self, X, y, reset=False, spec=self.input_spec_)
        self.input_spec_.check_units(X, type(self).__name__)  # training on them costs most
        weight = example_weights(self, X, y, sample_weight, incremental=True, labels=self.classes_)
        return X, encode_targets(self, y, reset=False), weight

    @property
    def history_(self):
        """skorch's training history (one row per epoch: losses, duration, ...)."""
        check_is_fitted(self, "net_")
        return self.net_.history

    @property
    def loss_curve_(self) -> list:
        """The training loss of each epoch, as ``MLPClassifier`` names it."""
        check_is_fitted(self, "net_")
        return [float(row["train_loss"]) for row in self.net_.history if "train_loss" in row]

    @property
    def training_precision_(self) -> str | None:
        """``"bf16"`` or ``"float32"``: the precision of the last training epoch.

        What ``mixed_precision`` gave on this machine (``"auto"`` on a CPU measures,
        see the parameter); each row of ``history_`` records its epoch's, and
        :meth:`save` keeps it. None for a model loaded from a file written before it
        was recorded.
        """
        check_is_fitted(self, "net_")
        rows = [row["precision"] for row in self.net_.history if "precision" in row]
        return rows[-1] if rows else vars(self).get("_saved_precision")

    @property
    def validation_scores_(self) -> list | None:
        """The held-out accuracy after each epoch with ``early_stopping``; else None."""
        check_is_fitted(self, "net_")
        column = _training.VALID_SCORE
        scores = [float(row[column]) for row in self.net_.history if column in row]
        return scores or None

    @property
    def best_validation_score_(self) -> float | None:
        """The best of ``validation_scores_`` (the weights kept are that epoch's); else None."""
        scores = self.validation_scores_
        return max(scores) if scores else None

    # -- what fit learnt of X, as scikit-learn users read it -------------------------------

    @property
    def input_shape_(self) -> tuple:
        """``(channels, height, width)`` the network was built for (``input_spec_.shape``)."""
        return self.input_spec_.shape

    @property
    def data_format_(self) -> str:
        """The order of the values of one sample of ``X`` (``input_spec_.data_format``)."""
        return self.input_spec_.data_format

    @property
    def input_offset_(self) -> np.ndarray:
        """Subtracted from each feature before the network (``input_spec_.offset``)."""
        return self.input_spec_.offset

    @property
    def input_scale_(self) -> np.ndarray:
        """Each feature is divided by this after the offset (``input_spec_.scale``)."""
        return self.input_spec_.scale


def start_net(estimator, incremental: bool = False, y=None, resolved=None) -> None:
    """Place, build and initialise a new skorch net, seeded from ``random_state``.

    ``incremental`` (:meth:`partial_fit`) trains on all rows: no early stopping.
    With the encoded labels ``y``, an early-stopping hold-out that cannot be drawn
    from them is refused first, before any seed is drawn or any weight built.
    ``resolved``: a saved network's sizes (:attr:`~sklearn_capsnet.nn.CapsNet.resolved`),
    which it is rebuilt with.
    """
    accelerator = estimator.accelerator
    estimator.device_ = (
        str(accelerator.device) if accelerator is not None else resolve_device(estimator.device)
    )
    params = estimator.get_params(deep=False)
    params["early_stopping"] = estimator.early_stopping and not incremental
    split = _training.hold_out(params, estimator.multilabel_)
    if y is not None:
        _training.check_hold_out(split, params, y)
    estimator._seed_ = _training.draw_seed(estimator.random_state, accelerator)
    estimator.net_ = _training.new_trainer(
        params,
        network={
            **module_params(params),
            **({"module__resolved": resolved} if resolved else {}),
        },
        keywords=passed_through(params),
        input_spec=estimator.input_spec_,
        n_outputs=len(estimator.classes_),
        multilabel=estimator.multilabel_,
        train_split=split,
        device=estimator.device_,
        seed=estimator._seed_,
    )
