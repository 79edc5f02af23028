"""A safe model file: safetensors weights with the estimator described in JSON.

One ``.safetensors`` file holds the network's tensors, the input scaling, and in
its header a JSON description (format version, estimator class, hyper-parameters,
fitted attributes, a SHA-256 of the tensors). Loading parses JSON and tensors
only: nothing is unpickled, so a file from someone else cannot run code.
Training-only objects (callbacks, ``train_split``, optimizer state) are not saved.

This module reads and writes files; it knows an estimator only as the plain
:class:`SavedModel` the estimator describes itself with, and from which it
assembles itself (:mod:`~sklearn_capsnet.estimator.saving`).
"""

import hashlib
import json
import numbers
import os
from dataclasses import dataclass

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save

from ..data.input_spec import InputSpec
from ..nn.front_end import side_halvings
from ..nn.sizing import AUTO_GRIDS, PRIMARY_GRID, capsule_types, geometry, working_size
from .atomic import write_atomically

__all__ = [
    "CODECS",
    "DESCRIPTION_KEYS",
    "SavedModel",
    "module_state",
    "load_module_state",
    "not_a_model",
    "read",
    "write",
]

# Version 2: the class-capsule ``weight`` is stored divided by its constant scale.
FORMAT, FORMAT_VERSION = "sklearn-capsnet", 2


@dataclass(frozen=True, eq=False)
class SavedModel:
    """A fitted estimator as the file holds it: plain values and tensors.

    Parameters
    ----------
    estimator : str
        The class name (``"CapsNetClassifier"``).
    params : dict
        The constructor's arguments the file saves (the parameter table's ``saved``);
        the network's (``front_end``, ...) as ``fit`` built the network.
    codecs : dict of str to str
        How each of ``params`` is stored: a key of :data:`CODECS`.
    classes : ndarray
    multilabel : bool
    n_features_in : int
    feature_names_in : ndarray or None
    input_spec : InputSpec
    n_iter : int
    weights : dict of str to Tensor
        The CapsNet's ``state_dict``, plain parameter names.
    training_precision : {"bf16", "float32"} or None
        What the last training epoch ran in (None: files from before it was saved).
    network : dict or None
        The sizes the network was built with (``primary_grid``, ``conv_channels``,
        ``primary_types`` as ints: :attr:`~sklearn_capsnet.nn.CapsNet.resolved`), which
        rebuild it as saved whatever ``"auto"`` gives when it is loaded (None: files
        saved before files held them, rebuilt from ``params``).
    history : list of dict or None
        One row per epoch trained: the training history's numbers, strings and
        booleans (losses, durations, ...), without its batches (None: files saved
        before they held it).
    """

    estimator: str
    params: dict
    codecs: dict
    classes: np.ndarray
    multilabel: bool
    n_features_in: int
    feature_names_in: np.ndarray | None
    input_spec: InputSpec
    n_iter: int
    weights: dict
    training_precision: str | None = None
    network: dict | None = None
    history: list | None = None


NETWORK_SIZES = ("primary_grid", "conv_channels", "primary_types")  # SavedModel.network


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


def _int_or_none(value):
    """A seed the file can repeat: an int, else None (a ``RandomState`` is not stored)."""
    return value if isinstance(value, numbers.Integral) else None


# How a parameter is stored (the parameter table's ``saved``): name to (encode, decode).
# "json" values sit among the description's "params"; the others beside them, under the
# parameter's own name, which must not be one of DESCRIPTION_KEYS. A parameter a file
# does not hold (saved before it existed) takes its default.
DESCRIPTION_KEYS = ("format", "format_version", "estimator", "params", "fitted", "sha256")
CODECS = {
    "json": (None, None),
    "torch.optim class": (_optimizer_name, lambda name: getattr(torch.optim, name)),
    "int or null": (_int_or_none, lambda value: value),
    "labelled weights": (_json_class_weight, _class_weight),
}


def write(path, model: SavedModel) -> None:
    """Write ``model`` to ``path`` (see module docstring), all at once: a failed write
    raises an ``OSError`` that names the path and leaves any earlier file there."""
    params = {
        key: list(value) if isinstance(value, tuple) else value
        for key, value in model.params.items()
    }
    description = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "estimator": model.estimator,
        "params": {key: params[key] for key, codec in model.codecs.items() if codec == "json"},
        **{
            key: CODECS[codec][0](params[key])
            for key, codec in model.codecs.items()
            if codec != "json"
        },
        "fitted": {
            "classes": _json_labels(model.classes),
            "multilabel": bool(model.multilabel),
            "n_features_in": int(model.n_features_in),
            "feature_names_in": []
            if model.feature_names_in is None
            else np.asarray(model.feature_names_in).tolist(),
            "input_shape": list(model.input_spec.shape),
            "data_format": model.input_spec.data_format,
            # the shape decode answers in: one sample of the training X, null for rows
            "sample_shape": None
            if model.input_spec.sample_shape is None
            else list(model.input_spec.sample_shape),
            "n_iter": int(model.n_iter),
            "training_precision": model.training_precision,
            "network": model.network,
            "history": None if model.history is None else [_epoch(row) for row in model.history],
        },
    }
    if isinstance(description["params"]["device"], torch.device):
        description["params"]["device"] = str(description["params"]["device"])
    tensors = {
        f"module.{name}": tensor.detach().cpu().contiguous()
        for name, tensor in model.weights.items()
    }
    # the spec's arrays are read-only, which torch.from_numpy warns of: copy these two
    # vectors (one value per feature); the weights above are written without a copy
    tensors["input_offset"] = torch.tensor(model.input_spec.offset)
    tensors["input_scale"] = torch.tensor(model.input_spec.scale)
    description["sha256"] = _digest(tensors)
    data = save(tensors, metadata={FORMAT: json.dumps(description)})
    write_atomically(
        path, data, what="the model", outcome="any earlier file at that path is intact"
    )


def network_sizes(net) -> dict | None:
    """The sizes the trained CapsNet was built with (:data:`NETWORK_SIZES`), as ints;
    None for a network unpickled from a version that did not keep them."""
    resolved = getattr(_plain_module(net), "resolved", None)
    return None if resolved is None else {name: int(resolved[name]) for name in NETWORK_SIZES}


def _epoch(row) -> dict:
    """A history row as the file keeps it: its plain values (no batches), in JSON."""
    kept = {}
    for key, value in row.items():
        if isinstance(value, bool | np.bool_):
            kept[key] = bool(value)
        elif isinstance(value, numbers.Integral):
            kept[key] = int(value)
        elif isinstance(value, numbers.Real):
            kept[key] = float(value)
        elif isinstance(value, str) or value is None:
            kept[key] = value
    return kept


def _history(stored, n_iter: int) -> list | None:
    """A file's history rows (None where it has none): one dict per epoch trained."""
    if stored is None:
        return None
    if not isinstance(stored, list) or not all(isinstance(row, dict) for row in stored):
        raise ValueError("its history is not a list of epochs")
    if len(stored) != n_iter:
        raise ValueError(f"its history has {len(stored)} epochs, not the {n_iter} it trained")
    return [dict(row) for row in stored]


def _network(stored) -> dict | None:
    """A file's network sizes (None where it has none): a dict of positive ints."""
    if stored is None:
        return None
    if not isinstance(stored, dict) or sorted(stored) != sorted(NETWORK_SIZES):
        raise ValueError(f"network sizes {stored!r}, not the {', '.join(NETWORK_SIZES)}")
    if not all(type(v) is int and v >= 1 for v in stored.values()):
        raise ValueError(f"network sizes {stored!r} are not all positive integers")
    return dict(stored)


def module_state(net) -> dict:
    """The trained CapsNet's ``state_dict``, with the plain parameter names the file keeps."""
    return _plain_module(net).state_dict()


def load_module_state(net, state: dict) -> None:
    """Load a file's weights into the CapsNet of ``net`` (compiled or not)."""
    _plain_module(net).load_state_dict(state, strict=True)


def _plain_module(net):
    """The CapsNet itself: with ``compile=True`` skorch's ``module_`` wraps it, and the
    file keeps the plain parameter names so it loads compiled or not."""
    return getattr(net.module_, "_orig_mod", net.module_)


def not_a_model(path, why: str) -> ValueError:
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
        raise not_a_model(path, f"not a readable safetensors file ({error})") from None
    if FORMAT not in metadata:
        raise not_a_model(path, "its header has no sklearn-capsnet description")
    try:
        description = json.loads(metadata[FORMAT])
    except json.JSONDecodeError as error:
        raise not_a_model(path, f"its description is not JSON ({error})") from None
    if description.get("format") != FORMAT:
        raise not_a_model(path, f"unknown format {description.get('format')!r}")
    version = description.get("format_version")
    if version != FORMAT_VERSION:
        raise not_a_model(
            path,
            f"it is in format version {version!r} and this sklearn-capsnet reads version "
            f"{FORMAT_VERSION} only; fit the model again with this version, or load it "
            "with the version that saved it",
        )
    if description.get("sha256") != _digest(tensors):
        raise not_a_model(path, "its tensors do not match their checksum (corrupt or modified)")
    return description, tensors


def _labels(stored: dict) -> np.ndarray:
    values = stored["values"]
    if stored["dtype"] == "O":
        return np.asarray(values, dtype=object)
    return np.asarray(values, dtype=np.dtype(stored["dtype"]))


def _check_sizing_rule(path, description: dict) -> None:
    """Files from before ``primary_grid`` existed hold the same network up to 28 pixels
    (and with scaled kernels); above, the former rule halved each side to at most 32,
    a network this version no longer builds."""
    params, shape = description.get("params", {}), description.get("fitted", {})
    shape = shape.get("input_shape") if isinstance(shape, dict) else None
    if "primary_grid" in params or params.get("front_end", "scaled_kernels") == "scaled_kernels":
        return
    if isinstance(shape, list) and len(shape) == 3 and max(shape[1:]) > 28:
        raise ValueError(
            f"{os.fspath(path)!r} was saved by an sklearn-capsnet from before primary_grid "
            f"(2026-12), whose network for {shape[1]}x{shape[2]} images followed another "
            "sizing rule (each side halved until at most 32 pixels); this version builds "
            "another network for them. Fit the model again with this version, or load the "
            "file with the version that saved it."
        )


def _check_front_end_rule(path, description: dict, names) -> None:
    """Files saved on 2026-12-06 before this rule have a learned stride-1 stage in the
    ``"conv"`` front end of images with no side to halve (37 to 70 pixels by default);
    this version resamples those without a stage."""
    params, fitted = description.get("params", {}), description.get("fitted", {})
    shape = fitted.get("input_shape") if isinstance(fitted, dict) else None
    if params.get("front_end") != "conv" or not isinstance(shape, list) or len(shape) != 3:
        return
    if fitted.get("network") is not None:  # saved since this rule: rebuilt from its sizes
        return
    if not any(name.startswith("module.front.stages.") for name in names):
        return
    if max(side_halvings(shape, params.get("primary_grid", PRIMARY_GRID))) == 0:
        raise ValueError(
            f"{os.fspath(path)!r} holds a network for {shape[1]}x{shape[2]} images with a "
            "learned stride-1 stage before the capsules, built by an sklearn-capsnet of "
            "2026-12-06; this version resamples images of that size without it (it learnt "
            "better). Fit the model again with this version, or load the file with the "
            "version that saved it."
        )


def _primary_capsules(shape, params: dict, primary_grid) -> tuple[int, int]:
    """How many primary capsules, and of how many types, the network of ``params`` has
    for images of ``shape`` under ``primary_grid`` (the two fix the grid's positions)."""
    grid = geometry(*working_size(*shape[1:], primary_grid)).grid
    types = capsule_types(grid, params.get("primary_types", "auto"))
    return types * grid[0] * grid[1], types


def _pin_former_auto_grid(params: dict, fitted: dict, tensors) -> None:
    """Files saved on 2026-12-07 before the grid grew past 14×14 (and before files held
    their network's sizes) hold ``"auto"`` and a 14×14 network for images of 176 pixels
    and more, where ``"auto"`` now gives up to 20×20: ``primary_grid`` is set to the 14
    they were built with, so they load as saved."""
    shape, former = fitted.get("input_shape"), AUTO_GRIDS[1]
    weights = [tensors.get(f"module.{name}.weight") for name in ("classes", "primary.conv")]
    if params.get("primary_grid") != "auto" or params.get("front_end") == "scaled_kernels":
        return
    if (
        not isinstance(shape, list)
        or len(shape) != 3
        or any(w is None or w.ndim < 1 for w in weights)
    ):
        return
    dim = int(params.get("primary_dim", 8))
    saved = (int(weights[0].shape[0]), int(weights[1].shape[0]) // dim)
    if saved != _primary_capsules(shape, params, "auto"):
        if saved == _primary_capsules(shape, params, former):
            params["primary_grid"] = former


def read(path, estimator: str, codecs: dict) -> SavedModel:
    """Read a model of class ``estimator`` written by :func:`write`, all checks done;
    ``codecs`` says how each parameter is stored (see :class:`SavedModel`).

    Raises
    ------
    ValueError
        When the file is not a sklearn-capsnet model of this class, or its checksum
        or description do not agree.
    """
    description, tensors = _read(path)
    _check_sizing_rule(path, description)
    _check_front_end_rule(path, description, tensors)
    if description.get("estimator") != estimator:
        raise ValueError(
            f"{os.fspath(path)!r} holds a {description.get('estimator')}, not a "
            f"{estimator}; load it with {description.get('estimator')}.load."
        )
    try:
        params = dict(description["params"])
        # files from before front_end existed were built with kernels scaled to the image
        params.setdefault("front_end", "scaled_kernels")
        params.setdefault("primary_grid", 10)  # the grid no file before it could exceed
        for key, codec in codecs.items():
            if codec != "json" and key in description:  # else, as for "params": the default
                params[key] = CODECS[codec][1](description[key])
        fitted = description["fitted"]
        network = _network(fitted.get("network"))
        if network is None:
            _pin_former_auto_grid(params, fitted, tensors)
        names = fitted["feature_names_in"]
        spec = InputSpec(
            tuple(int(v) for v in fitted["input_shape"]),
            str(fitted["data_format"]),
            tensors.pop("input_offset").numpy(),
            tensors.pop("input_scale").numpy(),
            # files from before it: flat rows from decode
            sample_shape=tuple(int(v) for v in fitted.get("sample_shape") or ()) or None,
        )
        return SavedModel(
            estimator=estimator,
            params=params,
            codecs=codecs,
            classes=_labels(fitted["classes"]),
            multilabel=bool(fitted["multilabel"]),
            n_features_in=int(fitted["n_features_in"]),
            feature_names_in=np.asarray(names, dtype=object) if names else None,
            input_spec=spec,
            n_iter=int(fitted["n_iter"]),
            training_precision=fitted.get("training_precision"),
            network=network,
            history=_history(fitted.get("history"), int(fitted["n_iter"])),
            weights={name.removeprefix("module."): t for name, t in tensors.items()},
        )
    except (KeyError, TypeError, AttributeError, ValueError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise not_a_model(
            path, f"its description and tensors do not fit together ({message})"
        ) from error
