"""Large images: a front end brings them to the capsules' working size, the decoder draws
at that size, and reconstructions come back at the input's.

Reference values are written out (sizes, parameter counts) or computed here
independently (block means and bilinear resizing as float64 loops).
"""

import json
import math
import pickle

import numpy as np
import pytest
import torch
from model_files import edited
from safetensors import safe_open
from safetensors.torch import save_file
from shapes import make_shapes
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from torch import nn

from sklearn_capsnet import CapsNetClassifier, CapsuleTransformer
from sklearn_capsnet._testing import tiny
from sklearn_capsnet.io import model_file as _persistence
from sklearn_capsnet.nn import (
    FRONT_ENDS,
    CapsNet,
    Decoder,
    UpsamplingDecoder,
    area_resize,
    geometry,
    halvings,
    make_front_end,
    sizing,
    working_limit,
    working_size,
)
from sklearn_capsnet.nn.front_end import Unchanged

LEARNED = ("conv", "space_to_depth")
SHRINKING = (*LEARNED, "resize")
SMALL_NET = dict(conv_channels=8, primary_types=2, primary_dim=4, capsule_dim=4)


def _net(shape, front_end, n_classes=3, **overrides):
    torch.manual_seed(0)
    return CapsNet(shape, n_classes, front_end=front_end, **{**SMALL_NET, **overrides})


def _paper_grid(side: int) -> int:
    """Primary capsule positions along a side read with the paper's 9×9 kernels, the
    second of stride 2, every row reached (an even side's first kernel grows to 10):
    the stride-2 windows of 9 that fit in the first convolution's ``side - 8`` outputs,
    less one where they would leave the last output unread."""
    outputs = side - 8
    windows = (outputs - 9) // 2 + 1
    return windows if (outputs - 9) % 2 == 0 else (outputs - 1 - 9) // 2 + 1


@pytest.mark.parametrize("primary_grid", [1, 4, 6, 10, 12, 14])
def test_the_primary_grid_grows_with_the_side_up_to_primary_grid(primary_grid):
    # the paper: 6×6 at 28×28, 12×12 at 40×40 (Sabour et al. 2017, sections 4 and 5)
    assert (_paper_grid(28), _paper_grid(40)) == (6, 12)
    limit = working_limit(primary_grid)
    for side in range(28, 300):
        with torch.device("meta"):
            net = _net((1, side, side), "conv", primary_grid=primary_grid)
        expected = min(_paper_grid(side), primary_grid)
        assert net.geometry.grid == (expected, expected), side
        assert isinstance(net.front, Unchanged) == (side <= limit), side
    if primary_grid >= 6:  # the paper's kernels: the limit is the last side with that grid
        assert _paper_grid(limit) == primary_grid and _paper_grid(limit + 1) == primary_grid + 1


@pytest.mark.parametrize("primary_grid, limit", [(1, 3), (2, 6), (3, 12), (4, 16), (5, 22)])
def test_small_grids_stop_where_the_scaled_kernels_first_give_one_position_more(
    primary_grid, limit
):
    grids = [geometry(side, side).grid[0] for side in range(1, limit + 2)]
    assert max(grids[:-1]) == primary_grid < grids[-1]
    assert working_limit(primary_grid) == limit


@pytest.mark.parametrize(
    "size, limit, expected",
    [
        (1, 36, 0),
        (36, 36, 0),
        (37, 36, 0),
        (71, 36, 1),  # 36
        (141, 36, 2),  # 71, 36
        (140, 36, 1),  # 70, then resampled
        (224, 36, 2),  # 112, 56, then resampled
        (256, 36, 2),
        (281, 36, 3),
        (64, 28, 1),
        (1000, 28, 5),
        (86, 44, 0),  # a grid of 14: 45-86 px resampled only
        (87, 44, 1),  # 44
        (174, 44, 2),  # 87, 44
    ],
)
def test_a_side_is_halved_while_it_stays_at_least_the_working_size(size, limit, expected):
    assert halvings(size, limit) == expected


@pytest.mark.parametrize(
    "shape, working",
    [
        ((3, 37, 37), (36, 36)),  # a grid of 10 up to 77 px: 36
        ((3, 40, 40), (36, 36)),
        ((3, 64, 64), (36, 36)),
        ((1, 65, 65), (36, 36)),
        ((1, 77, 77), (36, 36)),
        ((1, 78, 78), (38, 38)),  # one position more every 6 pixels
        ((1, 84, 84), (40, 40)),
        ((1, 95, 95), (42, 42)),
        ((3, 96, 96), (44, 44)),  # 14 from 96 px: 44
        ((3, 100, 100), (44, 44)),
        ((3, 128, 96), (44, 44)),
        ((1, 175, 175), (44, 44)),
        ((3, 176, 176), (46, 46)),  # one position more every 8 pixels from 176
        ((1, 215, 215), (54, 54)),
        ((3, 216, 216), (56, 56)),  # 20 from 216 px: 56
        ((3, 224, 224), (56, 56)),
        ((3, 256, 256), (56, 56)),
        ((1, 30, 300), (30, 56)),
        ((2, 257, 1), (56, 1)),
    ],
    ids=lambda v: "x".join(map(str, v)),
)
@pytest.mark.parametrize("front_end", SHRINKING)
def test_the_front_end_brings_each_side_to_its_working_size(front_end, shape, working):
    front = make_front_end(front_end, shape)
    assert working_size(*shape[1:]) == working
    out = front(torch.rand(2, *shape))
    channels = shape[0] if front_end == "resize" else out.shape[1]
    assert out.shape == (2, channels, *working) == (2, *front.output_shape)


@pytest.mark.parametrize(
    "shape, strides",
    [
        ((3, 40, 40), []),  # under twice the working size: resampled, no learned stage
        ((3, 70, 40), []),
        ((3, 71, 40), [(2, 1)]),  # 71 halves to 36
        ((3, 78, 40), [(2, 1)]),  # 39, then resampled to 38: the working size grows slower
        ((3, 95, 40), [(2, 1)]),  # 48 to 42
        ((3, 160, 100), [(2, 2)]),  # 80 and 50, then resampled to 44
        ((3, 224, 120), [(2, 2), (2, 1)]),  # 112 and 60, then 56 and 60 resampled to 56
        ((3, 224, 100), [(2, 1), (2, 1)]),  # 112, 56; 100 resampled to 56
        ((1, 300, 20), [(2, 1), (2, 1)]),  # 150, 75, then resampled to 56
    ],
)
def test_the_conv_front_end_halves_while_a_side_stays_at_least_the_working_size(shape, strides):
    front = make_front_end("conv", shape)
    convolutions = [m for m in front.modules() if isinstance(m, nn.Conv2d)]
    assert [c.stride for c in convolutions] == strides
    assert all(c.kernel_size == (3, 3) for c in convolutions)


@pytest.mark.parametrize(
    "shape, grid",
    [
        ((3, 64, 64), (10, 10)),
        ((3, 224, 224), (20, 20)),
        ((1, 128, 96), (14, 14)),
        ((3, 100, 30), (14, 7)),
        ((3, 33, 60), (9, 10)),
    ],
)
@pytest.mark.parametrize("front_end", SHRINKING)
def test_the_capsules_see_the_working_map_not_the_image(front_end, shape, grid):
    net = _net(shape, front_end)
    assert net.geometry.grid == grid
    capsules, coupling = net.route(torch.rand(2, *shape))
    assert coupling.shape == (2, 2 * grid[0] * grid[1], 3)  # 2 types at each grid position
    assert capsules.shape == (2, 3, 4)


@pytest.mark.parametrize(
    "shape, grid, types",
    [
        ((1, 8, 8), (2, 2), 32),
        ((1, 27, 27), (6, 6), 32),
        ((1, 28, 28), (6, 6), 32),  # the paper's 6×6×32
        ((3, 32, 32), (8, 8), 32),
        ((1, 33, 33), (9, 9), 32),
        ((1, 36, 36), (10, 10), 32),  # 3,200 primary capsules: the most "auto" gives
        ((3, 40, 40), (10, 10), 32),  # resampled to 36
        ((3, 64, 64), (10, 10), 32),
        ((1, 65, 65), (10, 10), 32),
        ((1, 77, 77), (10, 10), 32),
        ((1, 78, 78), (11, 11), 26),  # 3,146
        ((3, 84, 84), (12, 12), 22),  # 3,168 (the paper's 40×40: 12×12×32)
        ((1, 90, 90), (13, 13), 18),  # 3,042
        ((1, 96, 96), (14, 14), 16),  # 3,136
        ((3, 129, 129), (14, 14), 16),
        ((1, 160, 160), (14, 14), 16),
        ((1, 175, 175), (14, 14), 16),
        ((3, 176, 176), (15, 15), 14),  # 3,150
        ((1, 200, 200), (18, 18), 9),  # 2,916
        ((3, 224, 224), (20, 20), 8),  # 3,200
        ((3, 256, 256), (20, 20), 8),
        ((3, 40, 300), (12, 20), 13),  # 240 positions: 3,120
        ((1, 33, 60), (9, 10), 32),  # 90 positions
        ((3, 100, 30), (14, 7), 32),  # 98 positions: 3,136
    ],
    ids=lambda v: "x".join(map(str, v)) if isinstance(v, tuple) else str(v),
)
def test_auto_types_keep_at_most_3200_primary_capsules_as_the_grid_grows(shape, grid, types):
    with torch.device("meta"):
        net = CapsNet(shape, 10)
    assert net.geometry.grid == grid
    assert net.primary.capsule_types == types
    assert net.n_primary == types * grid[0] * grid[1] <= 3200
    assert net.conv[0].out_channels == 8 * types  # 256 up to 10×10: the paper's
    assert f"{grid[0]}x{grid[1]}x{types} primary capsules" in net.describe()


def test_numbers_of_types_and_channels_are_taken_as_they_are_and_scaled_kernels_keep_the_papers():
    with torch.device("meta"):
        assert CapsNet((1, 128, 128), 10, primary_types=32).n_primary == 14 * 14 * 32
        assert CapsNet((1, 128, 128), 10, conv_channels=256).conv[0].out_channels == 256
        former = CapsNet((1, 128, 128), 10, primary_grid=10)  # the default before 2026-12-07
        scaled = CapsNet((1, 64, 64), 10, front_end="scaled_kernels")  # the former network
    assert former.n_primary == 10 * 10 * 32 and former.conv[0].out_channels == 256
    assert scaled.geometry.grid == (12, 12) and scaled.primary.capsule_types == 32
    assert scaled.conv[0].out_channels == 256


@pytest.mark.parametrize(
    "shape, parameters",
    [
        ((1, 28, 28), 8_220_432),  # the paper's 8,215,568 and a 10×10 first kernel
        ((1, 8, 8), 1_431_616),  # the digits: 4×4 and 3×3 kernels, 2×2 grid
        ((3, 28, 28), 9_878_832),
        ((13, 1, 1), 731_405),  # a table of 13 features
    ],
)
@pytest.mark.parametrize("front_end", FRONT_ENDS)
def test_up_to_28_pixels_every_front_end_is_the_papers_network(front_end, shape, parameters):
    net = CapsNet(shape, 10, front_end=front_end)
    assert isinstance(net.front, Unchanged)
    assert type(net.decoder) is Decoder
    assert net.decoder.layers[-2].out_features == math.prod(shape)
    assert sum(p.numel() for p in net.parameters()) == parameters
    assert not any(name.startswith("front") for name in net.state_dict())


def _parameters(shape, **params) -> int:
    with torch.device("meta"):  # counted, not allocated
        return sum(p.numel() for p in CapsNet(shape, 10, **params).parameters())


@pytest.mark.parametrize("channels", [1, 3])
def test_parameters_change_smoothly_with_the_side_and_stay_within_budget(channels):
    sides = [*range(29, 101), 127, 128, 129, 160, *range(170, 222), 224, 255, 256]
    counts = dict(zip(sides, (_parameters((channels, s, s)) for s in sides), strict=True))
    values = list(counts.values())
    # no jump: each pixel more changes the count by at most 15 % (a grid position more every
    # second pixel up to 36, every 6 pixels from 78 to 96 and every 8 from 176 to 216, where
    # the types and the first convolution's channels shrink: 32 and 256 on 10×10, 16 and 128
    # on 14×14, 8 and 64 on 20×20)
    assert all(abs(b / a - 1) < 0.15 for a, b in zip(values, values[1:], strict=False))
    assert max(values) <= 14_000_000  # the paper's 40×40: 13.5 M
    # 37-70 px: resampled to 36, the 36-pixel network; 71-77 px: one learned halving's 16
    # channels into it
    assert {counts[s] for s in range(36, 71)} == {counts[36]}
    first_stage = 16 * channels * 9 + 16 + 2 * 16  # 3x3 convolution and BatchNorm
    assert counts[71] - counts[70] == 256 * (16 - channels) * 10 * 10 + first_stage
    assert {counts[s] for s in range(71, 78)} == {counts[71]}
    # from 78 px the grid grows and the count falls to that of 14×14×16 from 96 to 175 px
    assert all(counts[a] > counts[b] for a, b in [(77, 78), (83, 84), (89, 90), (95, 96)])
    middle = [counts[s] for s in sides if 96 <= s < 176]  # 14×14×16 from 96 to 175 px
    assert max(middle) - min(middle) < 10_000
    assert len({counts[s] for s in range(176, 222, 8)}) == 6  # 15×15 to 20×20
    assert max(counts[s] for s in sides if s >= 96) <= 10_000_000
    for height, width in [(40, 300), (300, 40), (100, 150), (33, 256)]:
        assert _parameters((channels, height, width)) <= 12_000_000


def test_scaled_kernels_keep_the_former_network_at_every_size():
    net = CapsNet((3, 64, 64), 10, front_end="scaled_kernels")  # the 48.4 M
    assert isinstance(net.front, Unchanged)
    assert net.geometry.conv_kernel == (22, 22) and net.geometry.grid == (12, 12)
    assert type(net.decoder) is Decoder
    assert 48.3e6 < sum(p.numel() for p in net.parameters()) < 48.5e6


def _block_means(x: np.ndarray, factors) -> np.ndarray:
    """Float64 loop: the mean of each factors-sized block, partial blocks at the end."""
    n, channels, height, width = x.shape
    fh, fw = factors
    out = np.zeros((n, channels, math.ceil(height / fh), math.ceil(width / fw)))
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            out[:, :, i, j] = x[:, :, i * fh : (i + 1) * fh, j * fw : (j + 1) * fw].mean(
                axis=(2, 3)
            )
    return out


def _area_means(x: np.ndarray, size) -> np.ndarray:
    """Float64: each output pixel the mean of the input area under it. Every pixel is
    split into ``h`` × ``w`` equal parts (``size = (h, w)``), so that ``H·h`` parts make
    ``h`` equal runs of ``H`` parts each; each run's mean is the area mean."""
    n, channels, height, width = x.shape
    parts = np.repeat(np.repeat(x, size[0], axis=2), size[1], axis=3)
    return parts.reshape(n, channels, size[0], height, size[1], width).mean(axis=(3, 5))


@pytest.mark.parametrize("front_end", SHRINKING)
def test_the_decoder_learns_to_draw_area_means_at_the_working_size(front_end):
    shape = (3, 70, 50)  # 70 and 50 rows and columns to 36: 1.94 and 1.39 pixels each
    net = _net(shape, front_end, decoder_hidden=(8,))
    x = torch.rand(2, *shape, dtype=torch.float64)
    target = net.reconstruction_target(x)
    assert net.decoded_shape == (3, 36, 36)
    expected = _area_means(x.numpy(), (36, 36)).reshape(2, -1)
    np.testing.assert_allclose(target.numpy(), expected, rtol=1e-12)
    capsules = net(x.float())
    assert net.reconstruct(capsules).shape == target.shape


def test_a_whole_ratio_resamples_to_block_means():
    x = np.random.default_rng(0).random((2, 3, 88, 132))
    expected = _block_means(x, (2, 3))
    np.testing.assert_allclose(area_resize(torch.as_tensor(x), (44, 44)).numpy(), expected)
    front = make_front_end("resize", (3, 88, 132)).double()
    np.testing.assert_allclose(front(torch.as_tensor(x)).numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize("front_end", SHRINKING)
def test_the_front_end_ends_in_area_means_at_any_ratio(front_end):
    shape = (3, 70, 50)
    front = make_front_end(front_end, shape).double().eval()
    x = torch.rand(2, *shape, dtype=torch.float64)
    with torch.no_grad():
        before = {
            "conv": lambda v: front.stages(v),
            "space_to_depth": lambda v: torch.relu(front.blocks(v)),
            "resize": lambda v: v,
        }[front_end](x)
        out = front(x)
    expected = _area_means(before.numpy(), (36, 36))
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10, atol=1e-12)


def test_up_to_28_pixels_the_decoder_learns_to_draw_the_input_itself():
    net = _net((3, 28, 20), "conv")
    x = torch.rand(2, 3 * 28 * 20)
    assert torch.equal(net.reconstruction_target(x), x)
    assert torch.equal(net.to_input_size(x), x)


def _bilinear(images: np.ndarray, size) -> np.ndarray:
    """Float64 loop: bilinear resizing with pixel centres aligned (half-pixel offsets)."""
    n, channels, height, width = images.shape
    out = np.zeros((n, channels, *size))
    for i in range(size[0]):
        y = max((i + 0.5) * height / size[0] - 0.5, 0.0)
        y0 = min(int(y), height - 1)
        y1, wy = min(y0 + 1, height - 1), y - y0
        for j in range(size[1]):
            x = max((j + 0.5) * width / size[1] - 0.5, 0.0)
            x0 = min(int(x), width - 1)
            x1, wx = min(x0 + 1, width - 1), x - x0
            top = (1 - wx) * images[:, :, y0, x0] + wx * images[:, :, y0, x1]
            bottom = (1 - wx) * images[:, :, y1, x0] + wx * images[:, :, y1, x1]
            out[:, :, i, j] = (1 - wy) * top + wy * bottom
    return out


def test_drawings_at_the_working_size_are_resized_bilinearly_to_the_input():
    net = _net((2, 64, 30), "conv")
    assert net.decoded_shape == (2, 36, 30)
    decoded = torch.rand(3, 2 * 36 * 30, dtype=torch.float64)
    resized = net.to_input_size(decoded)
    assert resized.shape == (3, 2 * 64 * 30)
    expected = _bilinear(decoded.view(3, 2, 36, 30).numpy(), (64, 30))
    np.testing.assert_allclose(resized.view(3, 2, 64, 30).numpy(), expected, atol=1e-12)


def test_the_upsampling_decoder_does_not_grow_with_the_pixels():
    small = UpsamplingDecoder(160, (3, 16, 16))
    large = UpsamplingDecoder(160, (3, 32, 32))
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    # only the quarter-size map grows: 16 channels of 4×4 → 8×8 positions, 1,024 inputs each
    assert count(large) - count(small) == 1024 * 16 * (64 - 16) + 16 * (64 - 16)
    out = large(torch.zeros(2, 160))
    assert out.shape == (2, 3 * 32 * 32) and ((out > 0) & (out < 1)).all()


def test_in_training_the_conv_front_end_normalises_its_map_over_the_batch():
    front = make_front_end("conv", (3, 96, 48)).double().train()
    x = torch.rand(4, 3, 96, 48, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    # the same images at 255 times the contrast (the convolutions' biases then hardly count)
    torch.testing.assert_close(front(255.0 * x), front(x), rtol=1e-3, atol=1e-3)


def _positive(net: CapsNet) -> CapsNet:
    """Every convolution weight and bias made positive, in evaluation (where a BatchNorm
    scales each channel by a positive number): on positive inputs each ReLU then passes,
    and a change of one pixel reaches everything its windows reach."""
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, nn.Conv2d):
                module.weight.abs_()
                if module.bias is not None:
                    module.bias.abs_()
    return net.eval()


@pytest.mark.parametrize("shape", [(1, 70, 40), (2, 33, 65), (1, 100, 9)])
@pytest.mark.parametrize("front_end", SHRINKING)
def test_receptive_fields_are_the_input_pixels_that_move_each_primary_position(front_end, shape):
    net = _positive(_net(shape, front_end).double())
    channels, height, width = shape
    grid_h, grid_w = net.geometry.grid
    fields = net.receptive_fields()
    assert fields.shape == (grid_h, grid_w, height, width)
    x = torch.rand(1, *shape, dtype=torch.float64) + 0.1
    with torch.no_grad():
        before = net._primary_capsules(x)
        for row, col in [(r, width // 2) for r in range(height)] + [
            (height // 2, c) for c in range(width)
        ]:
            changed = x.clone()
            changed[0, -1, row, col] += 1.0
            moved = (net._primary_capsules(changed) - before).abs().sum(-1) > 0
            moved = moved.view(2, grid_h, grid_w)  # capsule i = (type * gh + h) * gw + w
            assert torch.equal(moved[0], fields[:, :, row, col]), (row, col)
            assert torch.equal(moved[1], fields[:, :, row, col]), (row, col)


@pytest.mark.parametrize(
    "shape", [(1, 33, 33), (1, 47, 64), (1, 65, 40), (3, 100, 37), (1, 129, 3), (1, 200, 1)]
)
@pytest.mark.parametrize("front_end", SHRINKING)
def test_every_pixel_of_a_large_image_reaches_the_class_capsules(front_end, shape):
    net = _positive(_net(shape, front_end).double())
    x = (torch.rand(1, *shape, dtype=torch.float64) + 0.1).requires_grad_(True)
    direction = torch.randn(
        1, 3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1)
    )
    (grad,) = torch.autograd.grad((net(x) * direction).sum(), x)
    unseen = grad[0] == 0
    assert not unseen.any(), f"{unseen.sum().item()} values unseen at {torch.nonzero(unseen)[:5]}"


def test_describe_says_the_geometry_and_the_parameter_count():
    net = CapsNet((3, 128, 128), 10)
    text = net.describe()
    assert text.startswith('128x128x3: front end "conv" to 44x44x16')
    assert "kernels 10x10 and 9x9, 128 channels, 14x14x16 primary capsules" in text  # "auto"
    assert "upsampling decoder at 44x44" in text
    assert text.endswith(f"{sum(p.numel() for p in net.parameters()):,} parameters")
    assert CapsNet((1, 28, 28), 10).describe() == (
        "28x28x1: kernels 10x10 and 9x9, 256 channels, 6x6x32 primary capsules, "
        "10 class capsules, dense decoder at 28x28, 8,220,432 parameters"
    )
    assert (
        "dense decoder at 32x32" in CapsNet((3, 32, 32), 10, front_end="scaled_kernels").describe()
    )


def test_an_unknown_front_end_is_named_with_the_choices():
    with pytest.raises(ValueError, match="unknown front end 'conv3'.*conv, space_to_depth"):
        CapsNet((3, 64, 64), 10, front_end="conv3")


# -- the estimators ---------------------------------------------------------------------------

N = 40
SIZE = (100, 44)  # rows over twice the working size (44): halved to 50, resampled to 44


@pytest.fixture(scope="module")
def photos():
    """Channels-last uint8 colour images (n, 100, 44, 3) of shapes, and labels."""
    X, y = make_shapes(N, size=SIZE, channels=3, n_classes=3, seed=0)
    return X.reshape(N, *SIZE, 3), y


@pytest.fixture(scope="module")
def photos_model(photos):
    X, y = photos
    return CapsNetClassifier(**tiny(max_epochs=1), random_state=0).fit(X, y)


def test_the_estimator_trains_the_front_end_network(photos_model):
    net = photos_model.net_.module_
    assert photos_model.input_shape_ == (3, 100, 44)
    assert net.front.output_shape[1:] == (44, 44) and net.decoded_shape == (3, 44, 44)
    assert any(name.startswith("front.") for name in net.state_dict())


def test_a_fitted_network_is_left_in_evaluation_mode(photos_model):
    assert not any(module.training for module in photos_model.net_.module_.modules())


def test_every_answer_for_an_image_depends_on_that_image_alone(photos, photos_model):
    # the front end's BatchNorm uses its running statistics after fit, and answering
    # leaves them as fit left them
    X, y = photos
    transformer = CapsuleTransformer(**tiny(max_epochs=1), random_state=0).fit(X, y)
    state = {k: v.clone() for k, v in photos_model.net_.module_.state_dict().items()}
    transformer_state = {k: v.clone() for k, v in transformer.net_.module_.state_dict().items()}
    answers = {
        "predict_proba": photos_model.predict_proba,
        "transform": transformer.transform,
        "reconstruct": photos_model.reconstruct,
        "reconstruction_error": photos_model.reconstruction_error,
    }
    for name, answer in answers.items():
        together = answer(X[:6])
        alone = np.concatenate([answer(X[k : k + 1]) for k in range(6)])
        np.testing.assert_allclose(together, alone, rtol=1e-4, atol=1e-5, err_msg=name)
    for model, before in [(photos_model, state), (transformer, transformer_state)]:
        after = model.net_.module_.state_dict()
        assert all(torch.equal(after[k], v) for k, v in before.items())


def test_reconstructions_come_back_at_the_size_layout_and_units_of_x(photos, photos_model):
    X, y = photos
    images = photos_model.reconstruct(X[:5])
    assert images.shape == (5, *SIZE, 3)
    # the same, by hand: the decoder's drawing at 44×44, resized, channels last, in X's units
    capsules = torch.as_tensor(photos_model.capsules(X[:5]))
    with torch.no_grad():
        drawn = photos_model.net_.module_.reconstruct(capsules).view(5, 3, 44, 44).double().numpy()
    resized = _bilinear(drawn, SIZE).transpose(0, 2, 3, 1).reshape(5, -1)
    expected = resized * photos_model.input_scale_ + photos_model.input_offset_
    np.testing.assert_allclose(images, expected.reshape(5, *SIZE, 3), rtol=1e-4, atol=1e-3)
    first = CapsNetClassifier(**tiny(max_epochs=1), random_state=0)
    first.fit(X.transpose(0, 3, 1, 2), y)
    from_first = first.reconstruct(X[:5].transpose(0, 3, 1, 2))
    assert from_first.shape == (5, 3, *SIZE)
    np.testing.assert_allclose(images, from_first.transpose(0, 2, 3, 1), atol=1e-3)


def test_decode_draws_images_of_x_s_size(photos, photos_model):
    X, _ = photos
    capsules = photos_model.capsules(X[:3])
    np.testing.assert_allclose(
        photos_model.decode(capsules), photos_model.reconstruct(X[:3]), atol=1e-4
    )


def test_reconstruction_error_compares_pixels_at_the_samples_own_size(photos, photos_model):
    X, _ = photos
    errors = photos_model.reconstruction_error(X[:6])
    scaled = (X[:6].reshape(6, -1) - photos_model.input_offset_) / photos_model.input_scale_
    images = scaled.reshape(6, *SIZE, 3).transpose(0, 3, 1, 2)  # the network's units, C first
    capsules = torch.as_tensor(photos_model.capsules(X[:6]))
    with torch.no_grad():
        drawn = photos_model.net_.module_.reconstruct(capsules).view(6, 3, 44, 44).double().numpy()
    resized = _bilinear(drawn, SIZE)  # the drawing at the sample's 100x44
    expected = np.sqrt(((resized - images).reshape(6, -1) ** 2).mean(axis=1))
    np.testing.assert_allclose(errors, expected, rtol=1e-4)


def test_verbose_says_the_geometry_and_the_parameter_count(photos, capsys):
    X, y = photos
    CapsNetClassifier(**tiny(max_epochs=1), verbose=1, random_state=0).fit(X, y)
    out = capsys.readouterr().out
    assert 'Network: 100x44x3: front end "conv" to 44x44x16' in out
    assert "14x14x4 primary capsules, 3 class capsules, upsampling decoder at 44x44" in out
    assert " parameters." in out


def test_front_end_is_validated_before_training(photos, photos_model):
    X, y = photos
    before = photos_model.net_
    with pytest.raises(ValueError, match="front_end.*'conv'"):
        photos_model.set_params(front_end="stride").fit(X, y)
    assert photos_model.net_ is before
    photos_model.set_params(front_end="conv")


def test_front_end_is_grid_searchable(photos):
    X, y = photos
    search = GridSearchCV(
        CapsNetClassifier(**tiny(max_epochs=1), random_state=0),
        {"front_end": ["conv", "resize"]},
        cv=2,
    ).fit(X, y)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    best = search.best_estimator_
    assert best.net_.module_.front_end == best.front_end == search.best_params_["front_end"]


@pytest.mark.parametrize("front_end", ["conv", "resize", "scaled_kernels"])
def test_the_front_end_is_saved_and_loaded(photos, tmp_path, front_end):
    X, y = photos
    clf = CapsNetClassifier(**tiny(max_epochs=1), front_end=front_end, random_state=0).fit(X, y)
    clf.save(tmp_path / "m.safetensors")
    loaded = CapsNetClassifier.load(tmp_path / "m.safetensors")
    assert loaded.front_end == front_end
    saved, back = clf.net_.module_.state_dict(), loaded.net_.module_.state_dict()
    assert saved.keys() == back.keys()  # "conv": the BatchNorm's running statistics too
    assert all(torch.equal(saved[k], back[k]) for k in saved)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_a_file_from_before_front_ends_loads_with_scaled_kernels(photos, tmp_path):
    X, y = photos
    clf = CapsNetClassifier(**tiny(max_epochs=1), front_end="scaled_kernels", random_state=0)
    clf.fit(X, y).save(tmp_path / "m.safetensors")
    with safe_open(str(tmp_path / "m.safetensors"), framework="pt") as handle:
        metadata = handle.metadata()
        tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    description = json.loads(metadata["sklearn-capsnet"])
    del description["params"]["front_end"]  # as written before the parameter existed
    save_file(
        tensors, str(tmp_path / "old.safetensors"), {"sklearn-capsnet": json.dumps(description)}
    )
    loaded = CapsNetClassifier.load(tmp_path / "old.safetensors")
    assert loaded.front_end == "scaled_kernels"
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_a_model_saved_after_set_params_loads_as_the_network_fit_built(photos, tmp_path):
    X, y = photos
    clf = CapsNetClassifier(**tiny(max_epochs=1), random_state=0).fit(X, y)
    clf.set_params(front_end="resize", conv_channels=16)  # acts at the next fit only
    clf.save(tmp_path / "m.safetensors")
    loaded = CapsNetClassifier.load(tmp_path / "m.safetensors")
    assert (loaded.front_end, loaded.conv_channels) == ("conv", 8)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_decode_says_what_capsules_and_labels_it_takes(photos, photos_model):
    X, _ = photos
    capsules = photos_model.capsules(X[:2])
    with pytest.raises(
        ValueError, match=r"capsules must have shape \(n_samples, 3, 4\).*\(2, 2, 4\)"
    ):
        photos_model.decode(capsules[:, :2])
    with pytest.raises(ValueError, match="indices into classes_.*np.searchsorted"):
        photos_model.decode(capsules, ["a", "b"])
    with pytest.raises(ValueError, match="from 0 to 2; got values from 1 to 3"):
        photos_model.decode(capsules, [1, 3])
    one_hot = np.eye(3, dtype=int)[[2, 0]]
    np.testing.assert_array_equal(
        photos_model.decode(capsules, one_hot), photos_model.decode(capsules, [2, 0])
    )


def test_displays_draw_x_s_units_from_black_to_white_over_the_training_range(photos, photos_model):
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from sklearn_capsnet.plotting import PerturbationDisplay, ReconstructionDisplay

    X, y = photos
    low, high = float(X.min()), float(X.max())  # one range for all pixels of the images
    display = ReconstructionDisplay.from_estimator(photos_model, X, n_images=2)
    drawn = [display.axes_[row, 0].images[0].get_array() for row in (0, 1)]
    rows = [X[0].astype(float), photos_model.reconstruct(X[:1]).reshape(*SIZE, 3)]
    for image, values in zip(drawn, rows, strict=True):  # the same scale for both
        np.testing.assert_allclose(image, np.clip((values - low) / (high - low), 0, 1), atol=1e-6)
    dim = X[..., 1] // 4  # grey images in 0-63: drawn over that range, bright values bright
    grey = CapsNetClassifier(**tiny(max_epochs=1), random_state=0).fit(dim, y)
    shown = PerturbationDisplay.from_estimator(grey, dim[0], dims=[0]).axes_[0, 5].images[0]
    assert shown.get_cmap().name == "gray" and shown.get_clim() == (0.0, 1.0)
    expected = (grey.reconstruct(dim[:1]).reshape(SIZE) - dim.min()) / (dim.max() - dim.min())
    np.testing.assert_allclose(shown.get_array(), np.clip(expected, 0, 1), atol=1e-5)
    darker = dim[:2] // 2  # drawn darker than the training images, not stretched
    display = ReconstructionDisplay.from_estimator(grey, darker, n_images=2)
    expected = (darker[0] - dim.min()) / (dim.max() - dim.min())
    np.testing.assert_allclose(display.axes_[0, 0].images[0].get_array(), expected)
    plt.close("all")


def test_primary_grid_sets_the_working_size_and_is_saved(photos, tmp_path):
    X, y = photos
    clf = CapsNetClassifier(**tiny(max_epochs=1), primary_grid=4, random_state=0).fit(X, y)
    net = clf.net_.module_
    assert net.geometry.grid == (4, 4) and net.front.output_shape[1:] == (16, 16)
    clf.save(tmp_path / "m.safetensors")
    loaded = CapsNetClassifier.load(tmp_path / "m.safetensors")
    assert loaded.primary_grid == 4 and loaded.net_.module_.geometry.grid == (4, 4)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert loaded.decode(loaded.capsules(X[:2])).shape == (2, *SIZE, 3)  # X's own shape


def test_primary_grid_is_validated_before_training(photos, photos_model):
    X, y = photos
    before = photos_model.net_
    with pytest.raises(ValueError, match="primary_grid.*range"):
        photos_model.set_params(primary_grid=0).fit(X, y)
    assert photos_model.net_ is before
    photos_model.set_params(primary_grid=10)


def test_primary_grid_is_grid_searchable(photos):
    X, y = photos
    search = GridSearchCV(
        CapsNetClassifier(**tiny(max_epochs=1), random_state=0), {"primary_grid": [3, 5]}, cv=2
    ).fit(X, y)
    best = search.best_estimator_
    assert best.net_.module_.geometry.grid == (best.primary_grid,) * 2


def _without_primary_grid(clf, tmp_path):
    """``clf`` saved as a version from before ``primary_grid`` wrote it."""
    clf.save(tmp_path / "m.safetensors")

    def edit(description, tensors):
        del description["params"]["primary_grid"]

    return edited(tmp_path / "m.safetensors", tmp_path / "old.safetensors", edit)


def test_a_file_from_before_primary_grid_loads_up_to_28_pixels_and_is_refused_above(
    photos, photos_model, tmp_path
):
    X, y = photos
    small = CapsNetClassifier(**tiny(max_epochs=1), random_state=0).fit(X[:, :28, :20], y)
    loaded = CapsNetClassifier.load(_without_primary_grid(small, tmp_path))
    np.testing.assert_array_equal(
        loaded.predict_proba(X[:, :28, :20]), small.predict_proba(X[:, :28, :20])
    )
    with pytest.raises(ValueError, match="from before primary_grid.*100x44 images.*Fit the model"):
        CapsNetClassifier.load(_without_primary_grid(photos_model, tmp_path))


def test_a_file_with_the_former_stride_one_stage_is_refused_with_the_way_out(photos, tmp_path):
    X, y = photos
    clf = CapsNetClassifier(**tiny(max_epochs=1), random_state=0).fit(X[:, :40], y)
    assert not any(name.startswith("front.") for name in clf.net_.module_.state_dict())
    clf.save(tmp_path / "m.safetensors")

    def edit(description, tensors):
        # as the rule of the morning of 2026-12-06 wrote it: a stride-1 stage at 40x44 (no
        # side to halve: 40 and 44 are under twice the working size, 36)
        tensors["module.front.stages.0.weight"] = torch.zeros(16, 3, 3, 3)
        del description["fitted"]["network"]  # files held no network sizes then
        description["sha256"] = _persistence._digest(tensors)

    path = edited(tmp_path / "m.safetensors", tmp_path / "stage.safetensors", edit)
    with pytest.raises(ValueError, match="40x44 images with a learned stride-1 stage.*Fit the"):
        CapsNetClassifier.load(path)


def test_a_file_saved_when_auto_stopped_at_14x14_loads_as_the_network_it_holds(tmp_path):
    X, y = make_shapes(6, size=(176, 60), channels=1, n_classes=2, seed=0)
    X = X.reshape(6, 176, 60)
    former = CapsNetClassifier(**tiny(max_epochs=1), primary_grid=14, random_state=0).fit(X, y)
    assert former.net_.module_.geometry.grid == (14, 14)  # "auto" gives 15×15 at 176 px now
    former.save(tmp_path / "m.safetensors")

    def edit(description, tensors):
        description["params"]["primary_grid"] = "auto"  # as the sixth session of 12-07 wrote
        del description["fitted"]["network"]  # the sizes built: files hold them since the eighth

    path = edited(tmp_path / "m.safetensors", tmp_path / "auto.safetensors", edit)
    loaded = CapsNetClassifier.load(path)
    assert loaded.primary_grid == 14 and loaded.net_.module_.geometry.grid == (14, 14)
    np.testing.assert_array_equal(loaded.predict_proba(X), former.predict_proba(X))
    now = CapsNetClassifier(**tiny(max_epochs=1), random_state=0).fit(X, y)
    now.save(tmp_path / "now.safetensors")  # a file of this version keeps "auto"
    assert CapsNetClassifier.load(tmp_path / "now.safetensors").primary_grid == "auto"


@pytest.mark.parametrize(
    "height, grids",
    [
        (40, (8, 14, 20)),  # read as it is, on a grid of 8 under the later rules
        (100, (40, 40, 40)),  # a learned halving, none under the later rules
    ],
)
def test_a_saved_network_loads_as_built_after_the_auto_rules_change(
    photos, tmp_path, monkeypatch, height, grids
):
    X, y = photos
    X = X[:, :height, :40]
    auto = dict(conv_channels="auto", primary_types="auto", primary_dim=2)
    clf = CapsNetClassifier(**tiny(max_epochs=1, **auto), random_state=0)
    clf.fit(X, y).save(tmp_path / "m.safetensors")
    built = clf.net_.module_.resolved
    monkeypatch.setattr(sizing, "AUTO_GRIDS", grids)  # later rules: another grid
    monkeypatch.setattr(sizing, "PRIMARY_CAPSULES", 800)  # and fewer types and channels
    later = CapsNet(clf.input_spec_.shape, 3).resolved
    assert all(later[name] != built[name] for name in built)
    loaded = CapsNetClassifier.load(tmp_path / "m.safetensors")
    assert (loaded.primary_grid, loaded.conv_channels, loaded.primary_types) == ("auto",) * 3
    assert loaded.net_.module_.resolved == built
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    refit = clone(loaded)  # fit builds the network of the rules of the day
    assert refit.fit(X, y).net_.module_.resolved == later


def test_a_model_unpickled_from_before_network_sizes_saves_a_file_that_loads(
    photos_model, tmp_path
):
    old = pickle.loads(pickle.dumps(photos_model))
    del old.net_.module_.resolved  # as a CapsNet pickled before it kept its sizes
    old.save(tmp_path / "m.safetensors")
    loaded = CapsNetClassifier.load(tmp_path / "m.safetensors")
    np.testing.assert_array_equal(
        loaded.net_.module_.state_dict()["classes.weight"],
        photos_model.net_.module_.state_dict()["classes.weight"],
    )


@pytest.mark.parametrize(
    "network",
    [
        {"primary_grid": "10", "conv_channels": 8, "primary_types": 32},
        {"primary_grid": 10, "conv_channels": 8},
        {"primary_grid": 0, "conv_channels": 8, "primary_types": 32},
        [10, 8, 32],
    ],
)
def test_a_file_with_malformed_network_sizes_is_refused(photos_model, tmp_path, network):
    photos_model.save(tmp_path / "m.safetensors")

    def edit(description, tensors):
        description["fitted"]["network"] = network

    path = edited(tmp_path / "m.safetensors", tmp_path / "bad.safetensors", edit)
    with pytest.raises(ValueError, match="not a valid sklearn-capsnet model.*network sizes"):
        CapsNetClassifier.load(path)


@pytest.mark.parametrize("shape", [(1, 30, 184), (3, 200, 200), (1, 176, 60)])
def test_a_former_auto_file_is_told_by_its_capsule_count_and_types_even_where_counts_agree(shape):
    def tensors(primary_grid):
        with torch.device("meta"):
            net = CapsNet(shape, 10, primary_grid=primary_grid)
        return {f"module.{name}": value for name, value in net.state_dict().items()}

    fitted = {"input_shape": list(shape)}
    # at 30x184 both rules give 3,136 primary capsules: 7x14x32 before, 7x16x28 now
    params = {"primary_grid": "auto", "front_end": "conv"}
    _persistence._pin_former_auto_grid(params, fitted, tensors(14))
    assert params["primary_grid"] == 14
    params = {"primary_grid": "auto", "front_end": "conv"}
    _persistence._pin_former_auto_grid(params, fitted, tensors("auto"))
    assert params["primary_grid"] == "auto"  # a file of this version is left as it is
    broken = {**tensors(14), "module.classes.weight": torch.zeros(())}
    _persistence._pin_former_auto_grid(params, fitted, broken)  # no crash: the load refuses
    assert params["primary_grid"] == "auto"
