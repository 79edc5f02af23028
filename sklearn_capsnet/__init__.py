"""sklearn-capsnet: a scikit-learn compatible Capsule Network built on skorch and PyTorch."""

from ._classifier import CapsNetClassifier
from ._inputs import ImageShapeWarning, InputUnitsWarning
from ._transformer import CapsuleTransformer

__version__ = "0.1.0"

__all__ = [
    "CapsNetClassifier",
    "CapsuleTransformer",
    "ImageShapeWarning",
    "InputUnitsWarning",
    "__version__",
]
