"""The CapsNet engine: pure PyTorch, no scikit-learn."""

from .capsnet import CapsNet, geometry
from .functional import capsule_lengths, lengths_to_proba, margin_loss, reconstruction_loss, squash
from .layers import ClassCapsules, Decoder, PrimaryCapsules, mask_capsules
from .loss import CapsuleLoss
from .routing import ROUTINGS, DynamicRouting, make_routing

__all__ = [
    "ROUTINGS",
    "CapsNet",
    "CapsuleLoss",
    "ClassCapsules",
    "Decoder",
    "DynamicRouting",
    "PrimaryCapsules",
    "capsule_lengths",
    "geometry",
    "lengths_to_proba",
    "make_routing",
    "margin_loss",
    "mask_capsules",
    "reconstruction_loss",
    "squash",
]
