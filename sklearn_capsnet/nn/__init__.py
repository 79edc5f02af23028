"""The CapsNet engine: pure PyTorch, no scikit-learn."""

from .capsnet import SHARED_TRANSFORMS, CapsNet
from .front_end import (
    FRONT_ENDS,
    AreaResample,
    AreaResize,
    SpaceToDepth,
    StridedConvolutions,
    area_resize,
    halvings,
    make_front_end,
)
from .functional import (
    capsule_lengths,
    capsule_log_odds,
    cross_entropy_loss,
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
from .routing import (
    ROUTINGS,
    DynamicRouting,
    InvertedAttentionRouting,
    SelfAttentionRouting,
    make_routing,
)
from .sizing import (
    PRIMARY_GRID,
    capsule_types,
    conv_width,
    geometry,
    grid_cap,
    working_limit,
    working_size,
)

__all__ = [
    "FRONT_ENDS",
    "PRIMARY_GRID",
    "ROUTINGS",
    "SHARED_TRANSFORMS",
    "AreaResample",
    "AreaResize",
    "CapsNet",
    "CapsuleLoss",
    "ClassCapsules",
    "Decoder",
    "DynamicRouting",
    "InvertedAttentionRouting",
    "PatchConv2d",
    "PrimaryCapsules",
    "SelfAttentionRouting",
    "SpaceToDepth",
    "StridedConvolutions",
    "UpsamplingDecoder",
    "capsule_lengths",
    "capsule_log_odds",
    "capsule_types",
    "class_capsule_init_std",
    "conv_width",
    "cross_entropy_loss",
    "area_resize",
    "geometry",
    "grid_cap",
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
    "working_limit",
    "working_size",
]
