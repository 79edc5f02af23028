"""Model files: the safe ``.safetensors`` format (``save``/``load``) and ONNX export.

The estimator describes itself as a :class:`~sklearn_capsnet.io.model_file.SavedModel`
and assembles itself from one (:meth:`FilesMixin._from_saved`, its one class
method for that); :mod:`~sklearn_capsnet.io.model_file` reads and writes the file,
:mod:`~sklearn_capsnet.io.onnx` exports the graph.
"""

import json
import os

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ..data.targets import set_classes
from ..io import model_file as _persistence
from ..io.onnx import export_onnx
from ..nn.device import resolve_device
from ..training import train as _training
from .fit import built, start_net
from .params import PARAMS, check_values, saved_codecs

__all__ = ["FilesMixin"]


class FilesMixin:
    """``to_onnx``, ``save`` and ``load``."""

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
            "sklearn_capsnet.input_shape": json.dumps(list(self.input_spec_.shape)),
            "sklearn_capsnet.data_format": self.input_spec_.data_format,
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
        network: a ``set_params`` since then acts at the next ``fit``, not in the file. The
        history's epochs are saved without their batches (losses, durations, ...), so
        a loaded model's ``n_iter_``, ``loss_curve_`` and learning-rate decay go on
        from them. Callbacks, ``train_split`` and the optimizer state are not saved: a
        loaded model predicts, and ``partial_fit`` continues with a fresh optimizer. For
        everything, use pickle or joblib, which only load files you trust.

        Parameters
        ----------
        path : str or os.PathLike
            Where to write, conventionally ending in ``.safetensors``.
        """
        check_is_fitted(self, "net_")
        _check_path(path, "save", "write")
        # a value set_params let through (it validates at fit) is refused before writing,
        # not when the loaded model first predicts
        self._validate_params()
        check_values(type(self).__name__, self.get_params(deep=False))
        if self.accelerator is not None:  # data-parallel training: the main process writes
            self.accelerator.wait_for_everyone()
            if not self.accelerator.is_main_process:
                return
        _persistence.write(path, self._as_saved())

    def _as_saved(self) -> "_persistence.SavedModel":
        """This fitted estimator as the file holds it; the network's parameters as ``fit``
        built the network, whatever ``set_params`` said since: the weights fit those."""
        params = self.get_params(deep=False)
        for p in PARAMS:
            if p.acts == "network":
                params[p.name] = built(self, p.name)
        codecs = saved_codecs(type(self).__name__)
        return _persistence.SavedModel(
            estimator=type(self).__name__,
            params={key: params[key] for key in codecs},
            codecs=codecs,
            classes=self.classes_,
            multilabel=self.multilabel_,
            n_features_in=self.n_features_in_,
            feature_names_in=getattr(self, "feature_names_in_", None),
            input_spec=self.input_spec_,
            n_iter=self.n_iter_,
            weights=_persistence.module_state(self.net_),
            training_precision=self.training_precision_,
            network=_persistence.network_sizes(self.net_),
            history=list(self.net_.history),
        )

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
            Fitted, predicting exactly as the saved one did, with the parameters saved.
            The network is rebuilt with the sizes it was built with (the file holds
            what ``"auto"`` gave ``primary_grid``, ``conv_channels`` and
            ``primary_types``), so a later change of the ``"auto"`` rules leaves it as
            saved; ``fit`` builds the network of today's rules. Files of 2026-12-07
            saved before they held those sizes, whose ``primary_grid="auto"`` built a
            14×14 grid for images of 176 pixels or more, come back with
            ``primary_grid=14``, the network they hold.

        Raises
        ------
        ValueError
            When the file is not a sklearn-capsnet model of this class, or its checksum,
            description or tensor shapes do not agree.
        """
        resolve_device(device)  # a device that is not there is no fault of the file
        _check_path(path, "load", "read")
        saved = _persistence.read(path, cls.__name__, saved_codecs(cls.__name__))
        try:
            return cls._from_saved(saved, device)
        except (TypeError, RuntimeError, ValueError) as error:
            message = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise _persistence.not_a_model(
                path, f"its description and tensors do not fit together ({message})"
            ) from error

    @classmethod
    def _from_saved(cls, saved: "_persistence.SavedModel", device="auto"):
        """The one way an estimator is assembled from a model file's contents, on ``device``."""
        params = {  # JSON has no tuples: the tuple-valued parameters as set
            key: tuple(value) if isinstance(value, list) else value
            for key, value in saved.params.items()
        }
        estimator = cls(**{**params, "device": device})
        set_classes(estimator, saved.classes)
        estimator.multilabel_ = saved.multilabel
        estimator.n_features_in_ = saved.n_features_in
        if saved.feature_names_in is not None:
            estimator.feature_names_in_ = saved.feature_names_in
        estimator.input_spec_ = saved.input_spec
        start_net(estimator, resolved=saved.network)
        _persistence.load_module_state(estimator.net_, saved.weights)
        # files without a history: as many rows as epochs, with their numbers only
        rows = saved.history or [{"epoch": k + 1} for k in range(saved.n_iter)]
        _training.trained_before(estimator.net_, rows, estimator.lr_decay)
        estimator.n_iter_ = saved.n_iter
        estimator._saved_precision = saved.training_precision
        return estimator

    def __setstate__(self, state):
        super().__setstate__(state)
        net = vars(self).get("net_")
        if net is not None and getattr(self, "device_", None) not in (None, net.data_device()):
            # skorch mapped the weights of a GPU-trained net to the CPU: follow it
            self.device_ = net.data_device()


def _check_path(path, method: str, does: str) -> None:
    """A clear error for a file object or other non-path (safetensors needs a path)."""
    if not isinstance(path, str | os.PathLike):
        raise TypeError(
            f"{method} takes the path of the file to {does} (a str or pathlib.Path), not "
            f"{type(path).__name__}; pass the file's name, e.g. {method}('model.safetensors')."
        )
