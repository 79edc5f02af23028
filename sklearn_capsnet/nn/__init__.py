"""The CapsNet engine: pure PyTorch, no scikit-learn."""

from .capsnet import CapsNet, geometry
from .front_end import (
    FRONT_ENDS,
    AreaResize,
    SpaceToDepth,
    StridedConvolutions,
    halvings,
    make_front_end,
    working_size,
)
from .functional import (
    capsule_lengths,
    capsule_log_odds,
    lengths_to_proba,
    longest_capsule,
    margin_loss,
    reconstruction_loss,
    squash,
    squash_exp,
)
from .layers import (
    ClassCapsules,
    Decoder,
    PrimaryCapsules,
    UpsamplingDecoder,
    class_capsule_init_std,
    mask_capsules,
)
from .loss import CapsuleLoss
from .patch_conv import PatchConv2d
from .routing import ROUTINGS, DynamicRouting, SelfAttentionRouting, make_routing

__all__ = [
    "FRONT_ENDS",
    "ROUTINGS",
    "AreaResize",
    "CapsNet",
    "CapsuleLoss",
    "ClassCapsules",
    "Decoder",
    "DynamicRouting",
    "PatchConv2d",
    "PrimaryCapsules",
    "SelfAttentionRouting",
    "SpaceToDepth",
    "StridedConvolutions",
    "UpsamplingDecoder",
    "capsule_lengths",
    "capsule_log_odds",
    "class_capsule_init_std",
    "geometry",
    "halvings",
    "lengths_to_proba",
    "longest_capsule",
    "make_front_end",
    "make_routing",
    "margin_loss",
    "mask_capsules",
    "reconstruction_loss",
    "squash",
    "squash_exp",
    "working_size",
]
