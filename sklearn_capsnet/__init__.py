"""sklearn-capsnet: a scikit-learn compatible Capsule Network built on skorch and PyTorch."""

from ._renamed import alias_old_module_names
from .data.input_spec import ImageShapeWarning, InputUnitsWarning
from .estimator.classifier import CapsNetClassifier
from .estimator.transformer import CapsuleTransformer

alias_old_module_names()  # pickles written before the folders name the old modules

__version__ = "0.1.0"

__all__ = [
    "CapsNetClassifier",
    "CapsuleTransformer",
    "ImageShapeWarning",
    "InputUnitsWarning",
    "__version__",
]
