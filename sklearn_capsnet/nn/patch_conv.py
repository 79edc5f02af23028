"""Convolution as matrix products over image patches, for bf16 on the CPU.

Under bfloat16 autocast on a CPU, oneDNN's direct convolution is slow for the
capsule network's large kernels. For the paper network's PrimaryCaps convolution
(256 → 256 channels, 9×9, stride 2, batch 32) on a 2-core Xeon with AMX it took
22 ms forward and 93 ms backward, while one bf16 matrix product of the same size
([1152 × 20736] × [20736 × 256]) took 8 ms. :class:`PatchConv2d` therefore
computes the convolution from channels-last image patches, one band of kernel
rows at a time, so that each band's patch matrix stays small enough for the
caches and nothing larger than the input is kept for the backward pass
(docs/benchmarks.md has the measurements). In every other case (float32, GPUs,
other autocast dtypes) it is ``nn.Conv2d``.

The input's gradient is scattered back onto the pixels with ``kh·kw`` strided
additions: as fast as torch's convolution backward on an idle machine, but each
is a parallel region, so a CPU oversubscribed by other processes slows it more
(see the user guide on threads).

"""

import torch
from torch import Tensor, nn

__all__ = ["PatchConv2d", "patch_conv2d"]

# A band of kernel rows holds at most this many patch values (8 MiB in bf16), or one row.
BAND_VALUES = 1 << 22


class PatchConv2d(nn.Conv2d):
    """``nn.Conv2d`` that runs as patch products on a CPU under bf16 autocast.

    Same parameters, state dict and results (up to bf16 rounding) as
    ``nn.Conv2d``. The patch path is taken for batches of ``[B, C, H, W]`` images
    (``B > 0``, the kernel inside the image) by unpadded, undilated, ungrouped
    convolutions, which the capsule network's all are; everything else is
    ``nn.Conv2d``'s own forward, with its errors. On the patch path the output is
    channels-last in memory, which the next ``PatchConv2d`` reads without a copy.

    Examples
    --------
    >>> import torch
    >>> conv = PatchConv2d(3, 8, kernel_size=5, stride=2)
    >>> x = torch.rand(2, 3, 16, 16)
    >>> with torch.autocast("cpu", torch.bfloat16):
    ...     y = conv(x)
    >>> y.shape, y.dtype, y.is_contiguous(memory_format=torch.channels_last)
    (torch.Size([2, 8, 6, 6]), torch.bfloat16, True)
    >>> torch.allclose(y.float(), torch.nn.functional.conv2d(x, conv.weight, conv.bias, 2),
    ...                atol=0.05)
    True
    """

    def forward(self, x: Tensor) -> Tensor:
        if not self._takes_patch_path(x):
            return super().forward(x)
        return patch_conv2d(x, self.weight, self.bias, self.stride, torch.bfloat16)

    def _takes_patch_path(self, x: Tensor) -> bool:
        return (
            x.device.type == "cpu"
            and torch.is_autocast_enabled("cpu")
            and torch.get_autocast_dtype("cpu") == torch.bfloat16
            and self.groups == 1
            and self.padding_mode == "zeros"
            and tuple(self.dilation) == (1, 1)
            and self.padding in ((0, 0), "valid")
            and x.dim() == 4
            and x.shape[0] > 0
            and x.shape[1] == self.in_channels
            and x.shape[2] >= self.kernel_size[0]
            and x.shape[3] >= self.kernel_size[1]
        )


def patch_conv2d(
    x: Tensor, weight: Tensor, bias: Tensor | None, stride: tuple[int, int], dtype: torch.dtype
) -> Tensor:
    """``F.conv2d(x, weight, bias, stride)`` (no padding) computed in ``dtype`` from patches.

    Parameters
    ----------
    x : Tensor of shape (B, C, H, W)
        ``B > 0`` images at least as large as the kernel. Channels-last input of
        ``dtype`` is read without a copy; anything else is copied once.
    weight : Tensor of shape (O, C, kh, kw)
    bias : Tensor of shape (O,) or None
    stride : (int, int)
    dtype : torch.dtype
        The dtype of the products and of the result; sums of products are
        accumulated in float32, or in ``dtype`` if it is wider.

    Returns
    -------
    Tensor of shape (B, O, H', W'), channels-last in memory, of ``dtype``.

    Examples
    --------
    >>> import torch
    >>> x, w = torch.rand(1, 2, 5, 5), torch.rand(4, 2, 3, 3)
    >>> y = patch_conv2d(x, w, None, (1, 1), torch.float32)
    >>> torch.allclose(y, torch.nn.functional.conv2d(x, w), atol=1e-5)
    True
    """
    image = _dense(x.permute(0, 2, 3, 1), dtype)  # [B, H, W, C]
    kernels = _dense(weight.permute(0, 2, 3, 1), dtype)  # [O, kh, kw, C]: the patches' order
    return _PatchProduct.apply(image, kernels, bias, tuple(stride))


def _dense(t: Tensor, dtype: torch.dtype) -> Tensor:
    """``t`` in ``dtype`` and contiguous, with at most one copy (none if it already is)."""
    if t.dtype == dtype:
        return t.contiguous()
    return t.to(dtype, memory_format=torch.contiguous_format)


def _output_size(image: Tensor, kernel, stride) -> tuple[int, int]:
    """``(H', W')`` of an unpadded convolution of a ``[B, H, W, C]`` image."""
    return tuple(
        (n - k) // step + 1 for n, k, step in zip(image.shape[1:3], kernel, stride, strict=True)
    )


def _band_rows(n_positions: int, kernel, channels: int) -> int:
    """Kernel rows per band: as many as fit in ``BAND_VALUES`` patch values, at least one."""
    kh, kw = kernel
    return max(1, min(kh, BAND_VALUES // max(1, n_positions * kw * channels)))


def _bands(n_positions: int, kernel, channels: int):
    """``(first, last)`` kernel rows of each band."""
    band = _band_rows(n_positions, kernel, channels)
    return [(first, min(first + band, kernel[0])) for first in range(0, kernel[0], band)]


def _patches(image: Tensor, kernel, stride, first: int, last: int) -> Tensor:
    """Patch matrix of kernel rows ``first:last``: ``[B·H'·W', (last-first)·kw·C]``.

    Row ``(b, y, x)`` holds ``image[b, stride·y + first + r, stride·x + kx, c]`` in
    ``(r, kx, c)`` order: views of ``image`` and one copy.
    """
    out_h, out_w = _output_size(image, kernel, stride)
    windows = image[:, first:].unfold(1, last - first, stride[0])  # [B, ≥H', W, C, r]
    windows = windows.unfold(2, kernel[1], stride[1])[:, :out_h]  # [B, H', W', C, r, kx]
    return windows.permute(0, 1, 2, 4, 5, 3).reshape(image.shape[0] * out_h * out_w, -1)


class _PatchProduct(torch.autograd.Function):
    """``[B, H, W, C]`` image and ``[O, kh, kw, C]`` kernels -> ``[B, O, H', W']``.

    The result is a tensor of its own (channels-last), not a view: an in-place
    ReLU after it then needs no copy of its gradient.
    """

    @staticmethod
    def forward(ctx, image: Tensor, kernels: Tensor, bias: Tensor | None, stride) -> Tensor:
        batch, _, _, channels = image.shape
        out_channels, kh, kw, _ = kernels.shape
        (out_h, out_w), kernel = _output_size(image, (kh, kw), stride), (kh, kw)
        n_positions = batch * out_h * out_w
        wide = torch.promote_types(image.dtype, torch.float32)
        by_row = kernels.view(out_channels, kh, kw * channels)
        out = torch.zeros(n_positions, out_channels, dtype=wide, device=image.device)
        if bias is not None:
            out += bias
        for first, last in _bands(n_positions, kernel, channels):
            out += (
                _patches(image, kernel, stride, first, last) @ by_row[:, first:last].flatten(1).T
            )
        ctx.save_for_backward(image, kernels)
        ctx.stride, ctx.has_bias = stride, bias is not None
        result = torch.empty(
            (batch, out_channels, out_h, out_w),
            dtype=image.dtype,
            device=image.device,
            memory_format=torch.channels_last,
        )
        result.permute(0, 2, 3, 1).view(n_positions, out_channels).copy_(out)
        return result

    @staticmethod
    def backward(ctx, grad: Tensor):
        image, kernels = ctx.saved_tensors
        channels = image.shape[3]
        out_channels, kh, kw, _ = kernels.shape
        stride, kernel = ctx.stride, (kh, kw)
        out_h, out_w = _output_size(image, kernel, stride)
        wide = torch.promote_types(image.dtype, torch.float32)
        grad = grad.permute(0, 2, 3, 1).to(image.dtype).reshape(-1, out_channels)  # [B·H'·W', O]
        by_row = kernels.view(out_channels, kh, kw * channels)
        grad_image = grad_kernels = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_image = torch.zeros(image.shape, dtype=wide, device=image.device)
        if ctx.needs_input_grad[1]:
            grad_kernels = torch.empty_like(by_row)
        for first, last in _bands(grad.shape[0], kernel, channels):
            if grad_kernels is not None:
                patches = _patches(image, kernel, stride, first, last)
                band = (grad.T @ patches).view(out_channels, -1, by_row.shape[2])
                grad_kernels[:, first:last] = band
            if grad_image is None:
                continue
            values = (grad @ by_row[:, first:last].flatten(1)).to(wide)  # d loss / d patches
            values = values.view(-1, out_h, out_w, last - first, kw, channels)
            for ky in range(first, last):  # each patch value back onto its pixel
                strip = grad_image[:, ky : ky + stride[0] * (out_h - 1) + 1 : stride[0]]
                for kx in range(kw):
                    pixels = strip[:, :, kx : kx + stride[1] * (out_w - 1) + 1 : stride[1]]
                    pixels += values[:, :, :, ky - first, kx]
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_bias = grad.to(wide).sum(0)
        if grad_image is not None:
            grad_image = grad_image.to(image.dtype)
        if grad_kernels is not None:
            grad_kernels = grad_kernels.view(kernels.shape)
        return grad_image, grad_kernels, grad_bias, None
