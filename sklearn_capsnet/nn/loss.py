"""The training objective as one callable, for trainers that expect a criterion."""

from torch import Tensor

from .functional import capsule_lengths, cross_entropy_loss, margin_loss, reconstruction_loss

__all__ = ["CapsuleLoss", "OBJECTIVES"]

#: The classification terms, by the name a routing gives as its ``objective``.
OBJECTIVES = {"margin": margin_loss, "cross_entropy": cross_entropy_loss}


class CapsuleLoss:
    """A classification term on the capsule lengths plus ``reconstruction_weight`` × SSE.

    A plain callable rather than an ``nn.Module``: it has no parameters, and
    data-parallel wrappers (accelerate, DDP) refuse modules without any.

    Parameters
    ----------
    reconstruction_weight : float, default=0.0005
        The paper's weight; 0 turns reconstruction off.
    objective : {"margin", "cross_entropy"}, default="margin"
        The paper's margin loss (:func:`~sklearn_capsnet.nn.margin_loss`), or the
        cross-entropy of the scores the lengths encode
        (:func:`~sklearn_capsnet.nn.cross_entropy_loss`), which inverted
        attention routing trains with: each routing names its own as
        ``objective``.

    Examples
    --------
    >>> import torch
    >>> loss = CapsuleLoss()
    >>> capsules = torch.tensor([[[0.9, 0.0], [0.1, 0.0]]])
    >>> loss(capsules, torch.tensor([0]), torch.ones(1, 4), torch.ones(1, 4))
    tensor(0.)
    """

    objective = "margin"  # the class's: models pickled before the choice existed

    def __init__(self, reconstruction_weight: float = 0.0005, objective: str = "margin") -> None:
        if objective not in OBJECTIVES:
            raise ValueError(
                f"objective={objective!r} must be one of {', '.join(map(repr, OBJECTIVES))}."
            )
        self.reconstruction_weight = reconstruction_weight
        self.objective = objective

    def __call__(
        self,
        capsules: Tensor,
        targets: Tensor,
        reconstruction: Tensor | None = None,
        images: Tensor | None = None,
        weight: Tensor | None = None,
    ) -> Tensor:
        """The batch loss; ``weight`` (one per example) weighs both terms of each example."""
        loss = OBJECTIVES[self.objective](capsule_lengths(capsules), targets, weight=weight)
        if reconstruction is not None and self.reconstruction_weight:
            error = reconstruction_loss(reconstruction, images, weight=weight)
            loss = loss + self.reconstruction_weight * error
        return loss
