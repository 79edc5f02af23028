"""The CapsNet engine: pure PyTorch, no scikit-learn."""

from .capsnet import CapsNet, geometry
from .functional import (
    capsule_lengths,
    capsule_log_odds,
    lengths_to_proba,
    margin_loss,
    reconstruction_loss,
    squash,
    squash_exp,
)
from .layers import ClassCapsules, Decoder, PrimaryCapsules, class_capsule_init_std, mask_capsules
from .loss import CapsuleLoss
from .patch_conv import PatchConv2d
from .routing import ROUTINGS, DynamicRouting, SelfAttentionRouting, make_routing

__all__ = [
    "ROUTINGS",
    "CapsNet",
    "CapsuleLoss",
    "ClassCapsules",
    "Decoder",
    "DynamicRouting",
    "PatchConv2d",
    "PrimaryCapsules",
    "SelfAttentionRouting",
    "capsule_lengths",
    "capsule_log_odds",
    "class_capsule_init_std",
    "geometry",
    "lengths_to_proba",
    "make_routing",
    "margin_loss",
    "mask_capsules",
    "reconstruction_loss",
    "squash",
    "squash_exp",
]
