"""The flat module names of before the folders, for pickles written then (2026-12-06).

A pickle names the module of each class it holds (``sklearn_capsnet._trainer`` for the
skorch net, ``sklearn_capsnet._inputs`` for the input spec, ...). Each class a fitted
estimator holds kept its module when the modules moved into folders, only the module's
name changed: the old name is registered as another name of the module it became, so
that ``pickle.load`` and ``joblib.load`` of such files find every class.
"""

import importlib
import sys

__all__ = ["RENAMED", "alias_old_module_names"]

RENAMED = {  # old name -> the module it became (under sklearn_capsnet)
    "_base": "estimator.base",
    "_classifier": "estimator.classifier",
    "_transformer": "estimator.transformer",
    "_params": "estimator.params",
    "_keywords": "estimator.set_params",
    "_fitting": "estimator.fit",
    "_mapping": "estimator.answers",
    "_capsules_api": "estimator.capsule_methods",
    "_model_files": "estimator.saving",
    "_outputs": "nn.outputs",
    "_device": "nn.device",
    "_arrays": "data.arrays",
    "_validation": "data.validation",
    "_inputs": "data.input_spec",
    "_targets": "data.targets",
    "_loader": "data.loader",
    "_trainer": "training.trainer",
    "_training": "training.train",
    "_callbacks": "training.callbacks",
    "_checkpoint": "training.checkpoint",
    "_precision": "training.precision",
    "_threads": "training.threads",
    "_prediction": "training.prediction",
    "_files": "io.atomic",
    "_persistence": "io.model_file",
    "_onnx": "io.onnx",
    "_viewpoints": "datasets.viewpoints",  # functions pickled by reference
}


def alias_old_module_names() -> None:
    """Register each old name of :data:`RENAMED` for its module (importing it: all but
    the viewpoint makers are loaded with the package anyway)."""
    for old, new in RENAMED.items():
        module = importlib.import_module(f"{__package__}.{new}")
        sys.modules.setdefault(f"{__package__}.{old}", module)
