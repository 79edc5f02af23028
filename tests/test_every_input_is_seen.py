"""Every input value reaches the class capsules, whatever the input size.

The primary convolution has stride 2: with a 1-wide kernel it skipped every other
position (a 2×2 input used one value of four), and wherever its windows stopped one
short of the first convolution's last output, the image's last row and column were
never read (every even size, the paper's 28×28 included).
"""

import pytest
import torch

from sklearn_capsnet.nn import CapsNet, geometry

SQUARES = [(side, side) for side in range(1, 65)]
OTHERS = [(1, 2), (2, 1), (1, 7), (3, 8), (5, 64), (20, 40), (28, 27), (64, 1), (63, 2)]


def _network(channels: int, height: int, width: int) -> CapsNet:
    # in evaluation: in training a front end's BatchNorm ties every pixel to every position
    torch.manual_seed(0)
    return (
        CapsNet((channels, height, width), 3, conv_channels=32, primary_types=2, decoder_hidden=())
        .double()
        .eval()
    )


def _changed_positions(channels: int, height: int, width: int) -> torch.Tensor:
    """Which input values, changed one at a time, change the class capsules."""
    net = _network(channels, height, width)
    base = torch.rand(1, channels * height * width, dtype=torch.float64)
    n = base.shape[1]
    moved = base.repeat(n, 1) + torch.eye(n, dtype=torch.float64)  # row k: value k + 1
    with torch.no_grad():
        return (net(moved) - net(base)).abs().flatten(1).amax(1) > 1e-12


def _sensitive_positions(channels: int, height: int, width: int) -> torch.Tensor:
    """Which input values the class capsules have a non-zero gradient for (all at once).

    A corner pixel reaches one window per kernel: 32 kernels make it vanishingly unlikely
    that a fresh network's ReLU zeroes them all (8 did once in 64 sizes).
    """
    net = _network(channels, height, width)
    x = torch.rand(1, channels * height * width, dtype=torch.float64, requires_grad=True)
    direction = torch.randn(
        1, 3, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(1)
    )
    (grad,) = torch.autograd.grad((net(x) * direction).sum(), x)
    return grad[0] != 0


@pytest.mark.parametrize("size", [(2, 2), (4, 4), (8, 8), (9, 9), (16, 16), (28, 28), (5, 12)])
def test_changing_any_one_pixel_changes_the_class_capsules(size):
    changed = _changed_positions(1, *size).view(size)
    assert changed.all(), f"{(~changed).sum().item()} pixels unseen at {torch.nonzero(~changed)}"


@pytest.mark.parametrize("size", SQUARES + OTHERS, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_class_capsules_depend_on_every_pixel(size):
    seen = _sensitive_positions(1, *size).view(size)
    assert seen.all(), f"{(~seen).sum().item()} pixels unseen at {torch.nonzero(~seen)}"


@pytest.mark.parametrize("n_features", [1, 2, 3, 4, 9, 16, 50, 64, 199, 200])
def test_every_table_feature_changes_the_class_capsules(n_features):
    assert _changed_positions(n_features, 1, 1).all()


def test_every_channel_of_a_colour_image_is_seen():
    assert _changed_positions(3, 6, 5).all()


@pytest.mark.parametrize("size", range(1, 65))
def test_the_primary_windows_end_on_the_last_convolution_output(size):
    (k1, _), (k2, _), (grid, _) = geometry(size, size)
    assert (grid - 1) * 2 + k2 == size - k1 + 1
    assert k2 >= 2 or grid == 1
