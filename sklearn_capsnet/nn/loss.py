"""The training objective as one callable, for trainers that expect a criterion."""

from torch import Tensor

from .functional import capsule_lengths, margin_loss, reconstruction_loss

__all__ = ["CapsuleLoss"]


class CapsuleLoss:
    """Margin loss plus ``reconstruction_weight`` × sum-of-squared-errors.

    A plain callable rather than an ``nn.Module``: it has no parameters, and
    data-parallel wrappers (accelerate, DDP) refuse modules without any.

    Parameters
    ----------
    reconstruction_weight : float, default=0.0005
        The paper's weight; 0 turns reconstruction off.

    Examples
    --------
    >>> import torch
    >>> loss = CapsuleLoss()
    >>> capsules = torch.tensor([[[0.9, 0.0], [0.1, 0.0]]])
    >>> loss(capsules, torch.tensor([0]), torch.ones(1, 4), torch.ones(1, 4))
    tensor(0.)
    """

    def __init__(self, reconstruction_weight: float = 0.0005) -> None:
        self.reconstruction_weight = reconstruction_weight

    def __call__(
        self,
        capsules: Tensor,
        targets: Tensor,
        reconstruction: Tensor | None = None,
        images: Tensor | None = None,
        weight: Tensor | None = None,
    ) -> Tensor:
        """The batch loss; ``weight`` (one per example) weighs both terms of each example."""
        loss = margin_loss(capsule_lengths(capsules), targets, weight=weight)
        if reconstruction is not None and self.reconstruction_weight:
            error = reconstruction_loss(reconstruction, images, weight=weight)
            loss = loss + self.reconstruction_weight * error
        return loss
