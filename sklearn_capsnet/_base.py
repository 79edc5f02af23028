"""The CapsNet estimators' shared public methods: fit, capsules, persistence.

The estimator is a plain scikit-learn estimator whose ``__init__`` only stores
its arguments. ``fit`` validates them and the data, then builds and trains a
skorch net (:mod:`._training`), kept as ``net_``: skorch runs the training
loop, callbacks and history; scikit-learn sees an estimator with no state
outside its fitted attributes. Prediction runs batch by batch
(:mod:`._prediction`). Each piece takes what it needs as arguments; this class
holds the public methods and hands them the values.
"""

import contextlib
import json
import math
import os

import numpy as np
import torch
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils._param_validation import validate_parameter_constraints
from sklearn.utils.validation import check_is_fitted

from . import _prediction, _training
from ._checkpoint import fit_record, folder_lock, resume
from ._device import autocast_dtype, resolve_device
from ._layout import read_layout, to_user_layout
from ._loader import InputReading
from ._onnx import export_onnx
from ._params import check_keyword, check_values, constraints
from ._persistence import load_estimator, save_estimator
from ._targets import TargetsMixin
from ._validation import as_rows, example_weights, input_scaling
from .nn import capsule_lengths

__all__ = ["CapsNetBase"]

# parameters read at each prediction, which may change after fit
PREDICTION_PARAMS = ("predict_batch_size", "mixed_precision", "threshold")


class CapsNetBase(TargetsMixin, BaseEstimator):
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
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        class_weight=None,
        reconstruction_weight=0.0005,
        shift=None,
        flip=False,
        input_shape=None,
        data_format="auto",
        front_end="conv",
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
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.class_weight = class_weight
        self.reconstruction_weight = reconstruction_weight
        self.shift = shift
        self.flip = flip
        self.input_shape = input_shape
        self.data_format = data_format
        self.front_end = front_end
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

        An unknown name raises ``ValueError`` at once, naming the closest parameter.
        """
        for key in params:
            # scikit-learn's check_do_not_raise_errors_in_init_or_set_params sets every name
            # of the signature, the catch-all "kwargs" too: that one is refused at fit
            if key != "kwargs":
                check_keyword(type(self).__name__, key)
        named = set(self._get_param_names())
        extra = {key: params.pop(key) for key in list(params) if key not in named}
        vars(self).update(extra)
        return super().set_params(**params)

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

    def _prepare_training_data(self, X, y):
        """Validate the parameters, X and y; fix the input geometry and scaling."""
        for key in self._extra_params():
            check_keyword(type(self).__name__, key)
        check_values(type(self).__name__, self.get_params(deep=False))
        X, y, sample_shape = as_rows(self, X, y, reset=True)
        self.input_shape_, self.data_format_ = read_layout(
            self, X, sample_shape, input_shape=self.input_shape, data_format=self.data_format
        )
        self.input_offset_, self.input_scale_ = input_scaling(X, self.input_shape_)
        return X, y

    def _start_net(self, incremental: bool = False) -> None:
        """Place, build and initialise a new skorch net, seeded from ``random_state``.

        ``incremental`` (:meth:`partial_fit`) trains on all rows: no early stopping.
        """
        accelerator = self.accelerator
        self.device_ = (
            str(accelerator.device) if accelerator is not None else resolve_device(self.device)
        )
        self._seed_ = _training.draw_seed(self.random_state, accelerator)
        reading = InputReading(
            self.input_shape_, self.data_format_, self.input_offset_, self.input_scale_
        )
        params = self.get_params(deep=False)
        params["early_stopping"] = self.early_stopping and not incremental
        self.net_ = _training.new_trainer(
            params,
            reading=reading,
            n_outputs=self._n_outputs(),
            multilabel=self.multilabel_,
            device=self.device_,
            seed=self._seed_,
        )

    def _train(self, X, y, weight, epochs: int) -> None:
        _training.train(
            self.net_, X, y, weight, epochs=epochs, seed=self._seed_, device=self.device_
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
            Class labels of any hashable type.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each example, multiplied with ``class_weight``'s. Each
            example's margin loss and reconstruction error count that many times (the
            batch loss is the mean of weighted terms). None: all 1.

        Returns
        -------
        self
        """
        with self._unchanged_on_error():
            X, y = self._prepare_training_data(X, y)
            weight = example_weights(self, X, y, sample_weight)
            y = self._encode_targets(y, reset=True)
            _training.check_hold_out(self.get_params(deep=False), X, y, self.multilabel_)
            self._start_net()
            with folder_lock(self.checkpoint, self.accelerator):  # one writer per folder
                if self.checkpoint is not None:
                    params = self.get_params(deep=False)
                    self.net_.checkpoint_fit = fit_record(params, X, y, weight)
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
                    y = self._encode_targets(y, reset=True)
                else:
                    self._set_classes(np.asarray(classes))
                    y = self._encode_targets(y, reset=False)
                self._start_net(incremental=True)
                self.net_.checkpoint_fit = fit_record(self.get_params(deep=False))
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
        X, y, _ = as_rows(self, X, y, reset=False)  # images checked against fit's
        weight = example_weights(self, X, y, sample_weight, incremental=True, labels=self.classes_)
        return X, self._encode_targets(y, reset=False), weight

    # -- prediction -------------------------------------------------------------------------

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
        X, _, _ = as_rows(self, X, reset=False)  # images checked against fit's
        validate_parameter_constraints(
            {name: self._parameter_constraints[name] for name in PREDICTION_PARAMS},
            {name: getattr(self, name) for name in PREDICTION_PARAMS},
            caller_name=type(self).__name__,
        )
        batch_size = _prediction.prediction_batch_size(
            self.predict_batch_size, self.batch_size, self.device_
        )
        precision = autocast_dtype(
            self.mixed_precision, self.device_, self.net_.reading.input_shape
        )
        return _prediction.map_inputs(
            self.net_, X, lambda x: fn(x, precision), shape, dtype, batch_size=batch_size
        )

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
        capsules, labels = self._decodable(capsules, labels)
        with torch.inference_mode():
            decoded = self.net_.capsnet().to_input_size(self._decoded(capsules, labels))
        return self._in_input_units(decoded.float().cpu().numpy())

    def _decodable(self, capsules, labels):
        """``decode``'s arguments as tensors on the device, or a ValueError that says why not."""
        n_classes = len(self.classes_)
        capsules = np.asarray(capsules, dtype=np.float32)
        expected = (n_classes, self.capsule_dim)
        if capsules.ndim != 3 or capsules.shape[1:] != expected:
            raise ValueError(
                f"capsules must have shape (n_samples, {n_classes}, {self.capsule_dim}), as "
                f"capsules(X) returns them; got {capsules.shape}."
            )
        if labels is not None:
            labels = np.asarray(labels)
            shapes = [(len(capsules),), (len(capsules), n_classes)]
            if labels.shape not in shapes or labels.dtype.kind not in "biu":
                raise ValueError(
                    f"labels must be indices into classes_ of shape ({len(capsules)},), or 0/1 "
                    f"indicators of shape ({len(capsules)}, {n_classes}); got {labels.dtype} "
                    f"values of shape {labels.shape}. For class names: "
                    "np.searchsorted(clf.classes_, names)."
                )
            if labels.ndim == 1 and (
                labels.min(initial=0) < 0 or labels.max(initial=0) >= n_classes
            ):
                raise ValueError(
                    f"labels must be indices into classes_, from 0 to {n_classes - 1}; got "
                    f"values from {labels.min()} to {labels.max()}."
                )
            labels = torch.as_tensor(labels, device=self.device_)
        return torch.as_tensor(capsules, device=self.device_), labels

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
            is ``"channels_last"``, to see images. Above 28×28 the decoder draws at the
            working size (see ``front_end``) and its drawings are resized bilinearly to
            ``X``'s.
        """
        check_is_fitted(self, "net_")
        to_input_size = self.net_.capsnet().to_input_size
        decoded = self._map_capsules(
            X,
            lambda capsules: to_input_size(self._decoded(capsules)),
            (math.prod(self.input_shape_),),
        )
        return self._in_input_units(decoded)

    def reconstruction_error(self, X):
        """How badly each sample is drawn back from its predicted class capsule(s).

        The root mean squared difference between a sample and its reconstruction
        (:meth:`reconstruct`), both in the units the network reads: the training
        data's range mapped to [0, 1] (``input_offset_``, ``input_scale_``). So the
        number does not depend on the units the model was fitted in (uint8 or
        floats; pass ``X`` in those same units) nor on the number of features: 0 is
        a perfect reconstruction, 1 the largest difference for values within the
        training range. Above 28×28 the decoder draws at the working size (see
        ``front_end``), and the sample is compared averaged over the blocks of pixels
        that make one working position: the picture the decoder learnt to draw, so
        damage finer than such a block (noise from pixel to pixel) hardly moves it.
        Inputs unlike the training data reconstruct badly from their
        winning capsule (Frosst, Sabour & Hinton 2018, "DARCCC"), once the decoder has
        learned to draw the training data: on a model trained for a few epochs only,
        every input reconstructs about equally badly. See the user guide for choosing
        a threshold.

        Parameters
        ----------
        X : array-like
            As in :meth:`fit`.

        Returns
        -------
        ndarray of shape (n_samples,), float32
            Multilabel models reconstruct from every capsule longer than
            ``threshold`` (from none, an all-zero mask, where none is).

        Examples
        --------
        >>> from sklearn.datasets import load_digits
        >>> from sklearn_capsnet import CapsNetClassifier
        >>> X, y = load_digits(return_X_y=True)
        >>> clf = CapsNetClassifier(max_epochs=2, input_shape=(1, 8, 8), random_state=0)
        >>> clf = clf.fit(X[:200], y[:200])
        >>> clf.reconstruction_error(X[:3]).shape
        (3,)
        >>> threshold = np.percentile(clf.reconstruction_error(X[:200]), 99)
        """
        check_is_fitted(self, "net_")

        target = self.net_.capsnet().reconstruction_target

        def errors(x, precision):
            capsules = self.net_.forward_capsules(x, precision)
            reconstruction = self._decoded(capsules).float()  # [b, C*h*w]
            return (reconstruction - target(x)).square().mean(dim=1).sqrt()

        return self._map_inputs(X, errors)

    def coupling_coefficients(self, X):
        """How much each primary capsule sent to each class: the routing's "parse tree".

        Primary capsule ``i`` is one capsule type at one position of the primary grid
        (``(type * grid_height + row) * grid_width + column``; plot them over the
        input with :class:`~sklearn_capsnet.plotting.CouplingDisplay`). With
        ``routing="dynamic"`` these are the coupling coefficients ``c_ij`` of the last
        routing iteration: each primary capsule's row sums to 1 over the classes.
        With ``routing="self_attention"``, the softmax coupling plus the learnt
        log-prior, ``c_ij + b_ij``: the weights by which each prediction enters its
        class capsule; rows sum to ``1 + Σ_j b_ij`` and entries may be negative.
        Computed ``predict_batch_size`` rows at a time.

        Parameters
        ----------
        X : array-like
            As in :meth:`fit`.

        Returns
        -------
        ndarray of shape (n_samples, n_primary_capsules, n_classes), float32
            Columns in the order of ``classes_``.

        Examples
        --------
        >>> from sklearn.datasets import load_digits
        >>> from sklearn_capsnet import CapsNetClassifier
        >>> X, y = load_digits(return_X_y=True)
        >>> clf = CapsNetClassifier(max_epochs=1, input_shape=(1, 8, 8), random_state=0)
        >>> coupling = clf.fit(X[:100], y[:100]).coupling_coefficients(X[:2])
        >>> coupling.shape  # 32 types at 2×2 positions, 10 classes
        (2, 128, 10)
        >>> bool(np.allclose(coupling.sum(axis=2), 1, atol=1e-5))
        True
        """
        check_is_fitted(self, "net_")
        shape = (self.net_.capsnet().n_primary, len(self.classes_))
        return self._map_inputs(X, self.net_.forward_coupling, shape)

    def _decoded(self, capsules, labels=None):
        """Decoder output ``[b, C*h*w]`` in [0, 1], at the decoder's size (the input's up
        to 28×28, the working size above); without labels, from the predicted capsule
        (multilabel: every capsule longer than ``threshold``)."""
        if labels is None and self.multilabel_:
            labels = self._active_capsules(capsules)
        return self.net_.module_.reconstruct(capsules, labels)

    def _in_input_units(self, decoded: np.ndarray) -> np.ndarray:
        """Map decoder output back to the layout and units of ``X``."""
        decoded = to_user_layout(decoded, self.input_shape_, self.data_format_)
        decoded *= self.input_scale_
        decoded += self.input_offset_
        return decoded

    # -- persistence --------------------------------------------------------------------------

    def to_onnx(self, path) -> None:
        """Write the fitted model as an ONNX file that predicts from raw rows of ``X``.

        The graph holds everything :meth:`predict_proba` does after reading ``X``:
        the input scaling (``input_offset_``, ``input_scale_``), the layout
        (channels last or first), the network with its routing iterations, and the
        mapping from capsule lengths to probabilities. Its input ``"X"`` is float32
        of shape ``(batch, n_features)``, any batch size: rows in the order of
        ``X``'s values (images: ``X.reshape(len(X), -1).astype(np.float32)``, the
        layout the model was fitted on). Its outputs are ``"probabilities"``
        ``(batch, n_classes)``, columns in the order of ``classes_`` (multilabel: the
        capsule lengths; for a :class:`CapsuleTransformer`, the probabilities a
        classifier would give), and ``"capsules"`` ``(batch, n_classes, capsule_dim)``
        (``transform``'s features, flattened there). Opset 18, exported by torch's ONNX
        exporter (``dynamo=True``). Feed at least one row: onnxruntime 1.32 stops the
        process on an empty batch.

        The graph computes in float32 whatever ``mixed_precision``: it matches
        ``predict_proba`` within 1e-4 where that runs in float32
        (``mixed_precision="no"``, and ``"auto"`` on CPUs without bf16 or for images
        under 16×16). Where ``predict_proba`` runs in bf16 the two differ by bf16's
        rounding (about 1e-3 on a trained model), and a close call may fall the other
        way. Not exported: training and the decoder (:meth:`reconstruct`,
        :meth:`reconstruction_error`). ``classes_`` (map the argmax of the
        probabilities through it), ``threshold``, ``input_shape_``, ``data_format_``
        and ``feature_names_in_`` travel as JSON strings in the file's metadata
        (``onnxruntime``: ``session.get_modelmeta().custom_metadata_map``, keys
        ``"sklearn_capsnet.classes"`` and so on).

        Needs the optional packages onnx and onnxscript; onnxruntime runs the file:
        ``pip install 'sklearn-capsnet[onnx]'``.

        Parameters
        ----------
        path : str or os.PathLike
            Where to write, conventionally ending in ``.onnx``.

        Examples
        --------
        >>> import onnxruntime  # doctest: +SKIP
        >>> clf.to_onnx("model.onnx")  # doctest: +SKIP
        >>> session = onnxruntime.InferenceSession("model.onnx")  # doctest: +SKIP
        >>> rows = X.reshape(len(X), -1).astype(np.float32)  # doctest: +SKIP
        >>> probabilities, capsules = session.run(None, {"X": rows})  # doctest: +SKIP
        """
        check_is_fitted(self, "net_")
        folder = os.path.dirname(os.path.abspath(os.fspath(path)))
        if not os.path.isdir(folder):
            raise ValueError(
                f"cannot write {os.fspath(path)!r}: the folder {folder!r} does not exist; "
                "create it first or pass another path."
            )
        export_onnx(self.net_, path, multilabel=self.multilabel_, metadata=self._onnx_metadata())

    def _onnx_metadata(self) -> dict:
        """What a user of the ONNX file needs besides the graph, as JSON strings."""
        metadata = {
            "sklearn_capsnet.estimator": type(self).__name__,
            "sklearn_capsnet.classes": json.dumps(np.asarray(self.classes_).tolist()),
            "sklearn_capsnet.multilabel": json.dumps(bool(self.multilabel_)),
            "sklearn_capsnet.threshold": json.dumps(self.threshold),
            "sklearn_capsnet.input_shape": json.dumps(list(self.input_shape_)),
            "sklearn_capsnet.data_format": self.data_format_,
        }
        if hasattr(self, "feature_names_in_"):
            names = np.asarray(self.feature_names_in_).tolist()
            metadata["sklearn_capsnet.feature_names_in"] = json.dumps(names)
        return metadata

    def save(self, path) -> None:
        """Save the fitted model to one safetensors file that loads without unpickling.

        The file holds the network weights, the input scaling and a JSON description
        (hyper-parameters, classes, shapes, a checksum of the tensors). Network
        parameters (``front_end``, ``conv_channels``, ...) are saved as ``fit`` built the
        network: a ``set_params`` since then acts at the next ``fit``, not in the file. Callbacks,
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
        if net is not None and getattr(self, "device_", None) not in (None, net.data_device()):
            # skorch mapped the weights of a GPU-trained net to the CPU: follow it
            self.device_ = net.data_device()

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
