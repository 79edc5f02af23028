"""A safe model file: safetensors weights with the estimator described in JSON.

One ``.safetensors`` file holds the network's tensors, the input scaling, and in
its header a JSON description (format version, estimator class, hyper-parameters,
fitted attributes, a SHA-256 of the tensors). Loading parses JSON and tensors
only: nothing is unpickled, so a file from someone else cannot run code.
Training-only objects (callbacks, ``train_split``, optimizer state) are not saved.
"""

import hashlib
import json
import numbers
import os

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save

from ._files import write_atomically
from ._params import PARAMS, saved_names

__all__ = ["save_estimator", "load_estimator"]

# Version 2: the class-capsule ``weight`` is stored divided by its constant scale.
FORMAT, FORMAT_VERSION = "sklearn-capsnet", 2
# stored apart from the JSON-valued parameters: by name, or when it is an int
_SPECIAL = ("optimizer", "random_state", "class_weight")


def _digest(tensors: dict) -> str:
    sha = hashlib.sha256()
    for name in sorted(tensors):
        sha.update(name.encode())
        sha.update(tensors[name].contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return sha.hexdigest()


def _json_labels(classes: np.ndarray) -> dict:
    labels = classes.tolist()
    if not all(isinstance(v, (str, numbers.Integral, numbers.Real, bool)) for v in labels):
        raise TypeError(
            f"class labels of type {type(labels[0]).__name__} cannot be stored in the safe "
            "format (it holds str, int, float and bool labels); use pickle or joblib instead."
        )
    return {"values": labels, "dtype": classes.dtype.str if classes.dtype.kind != "O" else "O"}


def _json_class_weight(class_weight):
    """``class_weight`` in JSON: None, ``"balanced"``, or labels (typed) and weights."""
    if class_weight is None or isinstance(class_weight, str):
        return class_weight
    labels = np.array(list(class_weight))
    return {"labels": _json_labels(labels), "weights": [float(w) for w in class_weight.values()]}


def _class_weight(stored):
    if stored is None or isinstance(stored, str):
        return stored
    labels = _labels(stored["labels"]).tolist()
    return dict(zip(labels, stored["weights"], strict=True))


def _optimizer_name(optimizer) -> str:
    if getattr(optimizer, "__module__", "").startswith("torch.optim"):
        return optimizer.__name__
    raise TypeError(
        f"optimizer {optimizer!r} is not a torch.optim class; the safe format stores only "
        "those. Use pickle or joblib for custom optimizers."
    )


def save_estimator(estimator, path) -> None:
    """Write a fitted estimator to ``path`` (see module docstring), all at once: a failed
    write raises an ``OSError`` that names the path and leaves any earlier file there."""
    params = estimator.get_params(deep=False)
    # the network as fit built it, whatever set_params said since: the tensors fit these
    built = estimator.net_.get_params()
    for p in PARAMS:
        if p.acts == "network":
            value = built[f"module__{p.name}"]
            params[p.name] = list(value) if isinstance(value, tuple) else value
    description = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "estimator": type(estimator).__name__,
        "params": {
            key: params[key]
            for key in saved_names(type(estimator).__name__)
            if key not in _SPECIAL
        },
        "optimizer": _optimizer_name(estimator.optimizer),
        "class_weight": _json_class_weight(estimator.class_weight),
        "random_state": params["random_state"]
        if isinstance(params["random_state"], numbers.Integral)
        else None,
        "fitted": {
            "classes": _json_labels(estimator.classes_),
            "multilabel": bool(estimator.multilabel_),
            "n_features_in": int(estimator.n_features_in_),
            "feature_names_in": getattr(estimator, "feature_names_in_", np.array([])).tolist(),
            "input_shape": list(estimator.input_shape_),
            "data_format": estimator.data_format_,
            "n_iter": int(estimator.n_iter_),
        },
    }
    if isinstance(description["params"]["device"], torch.device):
        description["params"]["device"] = str(description["params"]["device"])
    tensors = {
        f"module.{name}": tensor.detach().cpu().contiguous()
        for name, tensor in _plain_module(estimator.net_).state_dict().items()
    }
    tensors["input_offset"] = torch.from_numpy(np.ascontiguousarray(estimator.input_offset_))
    tensors["input_scale"] = torch.from_numpy(np.ascontiguousarray(estimator.input_scale_))
    description["sha256"] = _digest(tensors)
    data = save(tensors, metadata={FORMAT: json.dumps(description)})
    write_atomically(
        path, data, what="the model", outcome="any earlier file at that path is intact"
    )


def _plain_module(net):
    """The CapsNet itself: with ``compile=True`` skorch's ``module_`` wraps it, and the
    file keeps the plain parameter names so it loads compiled or not."""
    return getattr(net.module_, "_orig_mod", net.module_)


def _invalid(path, why: str) -> ValueError:
    return ValueError(
        f"{os.fspath(path)!r} is not a valid sklearn-capsnet model file: {why}. Nothing was "
        "loaded; use a copy of the file saved before, or save the fitted model again."
    )


def _read(path) -> tuple[dict, dict]:
    try:
        with safe_open(os.fspath(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    except (SafetensorError, OSError, ValueError) as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise _invalid(path, f"not a readable safetensors file ({error})") from None
    if FORMAT not in metadata:
        raise _invalid(path, "its header has no sklearn-capsnet description")
    try:
        description = json.loads(metadata[FORMAT])
    except json.JSONDecodeError as error:
        raise _invalid(path, f"its description is not JSON ({error})") from None
    if description.get("format") != FORMAT:
        raise _invalid(path, f"unknown format {description.get('format')!r}")
    version = description.get("format_version")
    if version != FORMAT_VERSION:
        raise _invalid(
            path,
            f"it is in format version {version!r} and this sklearn-capsnet reads version "
            f"{FORMAT_VERSION} only; fit the model again with this version, or load it "
            "with the version that saved it",
        )
    if description.get("sha256") != _digest(tensors):
        raise _invalid(path, "its tensors do not match their checksum (corrupt or modified)")
    return description, tensors


def _labels(stored: dict) -> np.ndarray:
    values = stored["values"]
    if stored["dtype"] == "O":
        return np.asarray(values, dtype=object)
    return np.asarray(values, dtype=np.dtype(stored["dtype"]))


def load_estimator(cls, path, device="auto"):
    """Read an estimator of class ``cls`` written by :func:`save_estimator`."""
    description, tensors = _read(path)
    if description.get("estimator") != cls.__name__:
        raise ValueError(
            f"{os.fspath(path)!r} holds a {description.get('estimator')}, not a "
            f"{cls.__name__}; load it with {description.get('estimator')}.load."
        )
    try:
        params = dict(description["params"])
        # files from before front_end existed were built with kernels scaled to the image
        params.setdefault("front_end", "scaled_kernels")
        params["optimizer"] = getattr(torch.optim, description["optimizer"])
        params["device"] = device
        params["random_state"] = description["random_state"]
        params["class_weight"] = _class_weight(description["class_weight"])
        fitted = description["fitted"]
        estimator = cls(**params)
        estimator._set_classes(_labels(fitted["classes"]))
        estimator.multilabel_ = bool(fitted["multilabel"])
        estimator.n_features_in_ = int(fitted["n_features_in"])
        if fitted["feature_names_in"]:
            estimator.feature_names_in_ = np.asarray(fitted["feature_names_in"], dtype=object)
        estimator.input_shape_ = tuple(int(v) for v in fitted["input_shape"])
        estimator.data_format_ = str(fitted["data_format"])
        estimator.input_offset_ = tensors.pop("input_offset").numpy()
        estimator.input_scale_ = tensors.pop("input_scale").numpy()
        estimator._start_net()
        state = {name.removeprefix("module."): tensor for name, tensor in tensors.items()}
        _plain_module(estimator.net_).load_state_dict(state, strict=True)
        estimator.n_iter_ = int(fitted["n_iter"])
    except (KeyError, TypeError, AttributeError, RuntimeError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise _invalid(
            path, f"its description and tensors do not fit together ({message})"
        ) from error
    return estimator
