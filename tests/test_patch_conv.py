"""The convolution as patch products: bf16 on the CPU, checked against float64."""

import re

import pytest
import torch
import torch.nn.functional as F

from sklearn_capsnet.nn import CapsNet, patch_conv
from sklearn_capsnet.nn.patch_conv import PatchConv2d, patch_conv2d

BF16 = torch.bfloat16

# (in channels, height, width, out channels, kernel, stride)
SHAPES = [
    (1, 28, 28, 8, (10, 10), (1, 1)),  # the paper network's first convolution, fewer kernels
    (16, 19, 19, 8, (9, 9), (2, 2)),  # its PrimaryCaps convolution, fewer channels
    (3, 11, 13, 5, (3, 4), (2, 1)),  # rectangular kernel, unequal strides
    (4, 6, 5, 3, (6, 5), (2, 2)),  # the kernel covers the whole image
    (2, 7, 9, 3, (2, 3), (3, 4)),  # strides longer than the kernel: pixels no patch reads
    (10, 1, 1, 6, (1, 1), (1, 1)),  # a table's features as channels
]


def _rounded(shape, generator):
    """float64 values exactly representable in bf16, so the reference sees the same inputs."""
    return torch.randn(shape, generator=generator, dtype=torch.float64).to(BF16).double()


def _case(shape, batch=2):
    channels, height, width, out_channels, kernel, stride = shape
    generator = torch.Generator().manual_seed(0)
    x = _rounded((batch, channels, height, width), generator)
    conv = PatchConv2d(channels, out_channels, kernel, stride)
    with torch.no_grad():
        conv.weight.copy_(_rounded(conv.weight.shape, generator))
        conv.bias.copy_(_rounded(conv.bias.shape, generator))
    sizes = zip((height, width), kernel, stride, strict=True)
    out_h, out_w = ((n - k) // s + 1 for n, k, s in sizes)
    upstream = _rounded((batch, out_channels, out_h, out_w), generator)
    return conv, x, upstream


def _relative_error(value, reference):
    return ((value.double() - reference).norm() / reference.norm()).item()


@pytest.mark.parametrize("band", [None, 1, 2])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s[:4])))
def test_bf16_cpu_convolution_and_its_gradients_match_float64(shape, band, monkeypatch):
    if band is not None:  # kernel rows per band of patches: one, two, or as the sizes say
        monkeypatch.setattr(patch_conv, "_band_rows", lambda *sizes: band)
    conv, x, upstream = _case(shape)
    ref_x = x.clone().requires_grad_()
    ref_w = conv.weight.detach().double().requires_grad_()
    ref_b = conv.bias.detach().double().requires_grad_()
    reference = F.conv2d(ref_x, ref_w, ref_b, conv.stride)
    (reference * upstream).sum().backward()

    x32 = x.float().requires_grad_()
    with torch.autocast("cpu", BF16):
        out = conv(x32)
    (out.float() * upstream.float()).sum().backward()

    assert out.dtype == BF16
    assert _relative_error(out, reference) < 1e-2
    assert _relative_error(x32.grad, ref_x.grad) < 1e-2
    assert _relative_error(conv.weight.grad, ref_w.grad) < 1e-2
    assert _relative_error(conv.bias.grad, ref_b.grad) < 1e-2


def _backward_nodes(out):
    """Names of the autograd nodes behind ``out``, each node once."""
    graph, seen = [out.grad_fn], {}
    while graph:
        node = graph.pop()
        if node is None or id(node) in seen:
            continue
        seen[id(node)] = type(node).__name__
        graph.extend(next_node for next_node, _ in node.next_functions)
    return list(seen.values())


@pytest.mark.parametrize("band", [None, 1, 2])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s[:4])))
@pytest.mark.parametrize("input_grad", [True, False], ids=["input grad", "no input grad"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no bias"])
def test_float64_patch_products_give_torchs_convolution_and_gradients(
    shape, band, input_grad, bias, monkeypatch
):
    # the same Function in float64: exact up to the order of sums (the first
    # convolution of a network trains without the input's gradient)
    if band is not None:
        monkeypatch.setattr(patch_conv, "_band_rows", lambda *sizes: band)
    conv, x, upstream = _case(shape, batch=1 if bias else 3)
    weight = conv.weight.detach().double().requires_grad_()
    b = conv.bias.detach().double().requires_grad_() if bias else None
    x = x.requires_grad_(input_grad)
    leaves = [t for t in (x, weight, b) if t is not None and t.requires_grad]
    out = patch_conv2d(x, weight, b, conv.stride, torch.float64)
    grads = torch.autograd.grad((out * upstream).sum(), leaves)
    reference = F.conv2d(x, weight, b, conv.stride)
    expected = torch.autograd.grad((reference * upstream).sum(), leaves)
    torch.testing.assert_close(out, reference, rtol=1e-12, atol=1e-12)
    for grad, expected_grad in zip(grads, expected, strict=True):
        torch.testing.assert_close(grad, expected_grad, rtol=1e-12, atol=1e-12)


def test_patch_products_pass_torchs_gradient_checks_to_second_order():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 7, 6, dtype=torch.float64, generator=generator, requires_grad=True)
    weight = torch.randn(4, 3, 3, 2, dtype=torch.float64, generator=generator, requires_grad=True)
    bias = torch.randn(4, dtype=torch.float64, generator=generator, requires_grad=True)

    def conv(x, weight, bias):
        return patch_conv2d(x, weight, bias, (2, 1), torch.float64)

    assert torch.autograd.gradcheck(conv, (x, weight, bias))
    assert torch.autograd.gradgradcheck(conv, (x, weight, bias))


def test_bf16_cpu_convolution_runs_as_patch_products_with_channels_last_output():
    conv, x, _ = _case(SHAPES[1])
    with torch.autocast("cpu", BF16):
        out = conv(x.float())
    names = _backward_nodes(out)
    assert "_PatchProductBackward" in names
    assert not any(name.startswith("Convolution") for name in names)
    assert out.is_contiguous(memory_format=torch.channels_last)


def test_float32_and_float16_convolutions_are_torchs_own():
    conv, x, _ = _case(SHAPES[2])
    out = conv(x.float())
    assert type(out.grad_fn).__name__.startswith("Convolution")
    assert torch.equal(out, F.conv2d(x.float(), conv.weight, conv.bias, conv.stride))
    with torch.autocast("cpu", torch.float16):
        out = conv(x.float())
        expected = F.conv2d(x.float(), conv.weight, conv.bias, conv.stride)
    assert out.dtype == torch.float16
    assert torch.equal(out, expected)


@pytest.mark.parametrize("options", [{"padding": 1}, {"groups": 2}, {"dilation": 2}])
def test_padded_grouped_or_dilated_convolutions_keep_torchs_bf16_convolution(options):
    conv = PatchConv2d(4, 6, 3, **options)
    x = torch.rand(2, 4, 9, 9)
    with torch.autocast("cpu", BF16):
        out = conv(x)
        expected = F.conv2d(x, conv.weight, conv.bias, 1, conv.padding, conv.dilation, conv.groups)
    assert torch.equal(out, expected)


@pytest.mark.parametrize(
    "x",
    [torch.rand(4, 4, 9), torch.rand(0, 4, 9, 9), torch.rand(2, 4, 2, 9), torch.rand(2, 5, 9, 9)],
    ids=["unbatched", "empty batch", "image smaller than the kernel", "wrong channels"],
)
def test_inputs_off_the_patch_path_get_what_nn_conv2d_gives(x):
    conv = PatchConv2d(4, 6, 3, stride=2)
    plain = torch.nn.Conv2d(4, 6, 3, stride=2)
    plain.load_state_dict(conv.state_dict())
    with torch.autocast("cpu", BF16):
        try:
            expected = plain(x)
        except RuntimeError as error:
            with pytest.raises(RuntimeError, match=re.escape(str(error)[:40])):
                conv(x)
            return
        assert torch.equal(conv(x), expected)


def test_compiling_the_patch_path_breaks_no_graph():
    conv = PatchConv2d(3, 4, 3, stride=2)

    def loss(x):
        with torch.autocast("cpu", BF16):
            return conv(x).float().sum()

    x = torch.rand(2, 3, 9, 9, requires_grad=True)
    assert torch._dynamo.explain(loss)(x).graph_break_count == 0


def test_the_backward_pass_keeps_nothing_larger_than_the_input_and_the_weights():
    conv, x, _ = _case(SHAPES[1])
    saved = []

    def keep_size(tensor):
        saved.append(tensor.numel())
        return tensor

    x32 = x.float().requires_grad_()
    with torch.autograd.graph.saved_tensors_hooks(keep_size, lambda t: t):
        with torch.autocast("cpu", BF16):
            conv(x32)
    assert saved
    assert max(saved) <= max(x.numel(), conv.weight.numel())


def test_a_bf16_capsnet_on_the_cpu_runs_both_convolutions_as_patch_products():
    torch.manual_seed(0)
    net = CapsNet((1, 12, 12), 3, conv_channels=8, primary_types=4, primary_dim=4)
    x = torch.rand(4, 1, 12, 12)
    reference = CapsNet((1, 12, 12), 3, conv_channels=8, primary_types=4, primary_dim=4)
    reference.load_state_dict(net.state_dict())
    reference.double()
    expected = reference(x.double())
    with torch.autocast("cpu", BF16):
        capsules = net(x)
    assert _relative_error(capsules, expected) < 2e-2
    assert _backward_nodes(capsules).count("_PatchProductBackward") == 2  # both convolutions
