"""Figures of what a fitted CapsNet sees; matplotlib is imported only when drawing."""

from .coupling import CouplingDisplay, coupling_maps
from .perturbation import PerturbationDisplay
from .reconstruction import ReconstructionDisplay

__all__ = ["CouplingDisplay", "PerturbationDisplay", "ReconstructionDisplay", "coupling_maps"]
