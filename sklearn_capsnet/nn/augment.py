"""Data augmentation on the device."""

import torch
from torch import Tensor

__all__ = ["random_flip", "random_shift"]


def random_shift(
    images: Tensor, max_shift: int, generator: torch.Generator | None = None
) -> Tensor:
    """Translate each image by its own random offset of up to ``max_shift`` pixels.

    Offsets are drawn independently per image and axis from
    ``{-max_shift, ..., max_shift}``; the uncovered border is filled with zeros,
    as in the paper's ±2-pixel shifts. Runs where ``images`` lives.

    Parameters
    ----------
    images : Tensor of shape (B, C, H, W)
    max_shift : int
        0 returns ``images`` unchanged.
    generator : torch.Generator, optional
        On the device of ``images``.

    Returns
    -------
    Tensor of shape (B, C, H, W)

    Examples
    --------
    >>> import torch
    >>> x = torch.arange(9.0).reshape(1, 1, 3, 3)
    >>> random_shift(x, 1).shape
    torch.Size([1, 1, 3, 3])
    """
    if max_shift <= 0:
        return images
    batch, channels, height, width = images.shape
    device = images.device
    padded = torch.nn.functional.pad(images, (max_shift,) * 4)  # [B, C, H+2s, W+2s]
    offsets = torch.randint(
        0, 2 * max_shift + 1, (2, batch), device=device, generator=generator
    )  # start of the crop in the padded image, per example: [2, B]
    rows = offsets[0, :, None] + torch.arange(height, device=device)  # [B, H]
    cols = offsets[1, :, None] + torch.arange(width, device=device)  # [B, W]
    b = torch.arange(batch, device=device)[:, None, None, None]
    c = torch.arange(channels, device=device)[None, :, None, None]
    return padded[b, c, rows[:, None, :, None], cols[:, None, None, :]]  # [B, C, H, W]


def random_flip(images: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Mirror each image left-right with probability 1/2, independently.

    Parameters
    ----------
    images : Tensor of shape (B, C, H, W)
    generator : torch.Generator, optional
        On the device of ``images``.

    Returns
    -------
    Tensor of shape (B, C, H, W)

    Examples
    --------
    >>> import torch
    >>> random_flip(torch.arange(4.0).reshape(1, 1, 2, 2)).shape
    torch.Size([1, 1, 2, 2])
    """
    flip = torch.rand(images.shape[0], device=images.device, generator=generator) < 0.5
    return torch.where(flip[:, None, None, None], images.flip(-1), images)
