"""Batches, scaling and shift augmentation: the path from arrays to the device."""

import numpy as np
import pytest
import torch
from torch.utils.data import Subset

from sklearn_capsnet.data.input_spec import InputSpec
from sklearn_capsnet.data.loader import ArrayDataset, BatchLoader
from sklearn_capsnet.nn.augment import random_flip, random_shift
from sklearn_capsnet.nn.device import fits_on_device, resolve_device, seeded


def _reading(shape=(1, 2, 3), offset=0.0, scale=1.0, data_format="channels_first"):
    n = int(np.prod(shape))
    return InputSpec(shape, data_format, np.full(n, offset), np.full(n, scale))


def _loader(X, y=None, **kwargs):
    params = dict(spec=_reading(), batch_size=4)
    return BatchLoader(ArrayDataset(X, y), **{**params, **kwargs})


def test_shuffled_epoch_visits_every_row_once_with_its_label():
    X = np.arange(10 * 6, dtype=np.float32).reshape(10, 6)
    y = np.arange(10)
    loader = _loader(X, y, shuffle=True)
    assert len(loader) == 3
    seen = []
    for xb, yb in loader:
        np.testing.assert_array_equal(xb[:, 0].numpy() / 6, yb.numpy())
        seen += yb.tolist()
    assert sorted(seen) == list(range(10))


def test_batches_are_scaled_to_unit_range():
    X = np.array([[0, 255] * 3, [255, 0] * 3], dtype=np.uint8)
    loader = _loader(X, spec=_reading(scale=255.0), batch_size=2)
    ((xb, yb),) = list(loader)
    assert xb.dtype == torch.float32 and yb is None
    np.testing.assert_allclose(xb.numpy(), X / 255.0)


def test_prediction_batches_are_padded_to_full_size_and_labelled_ones_are_not():
    X = np.ones((5, 6), dtype=np.float32)
    shapes = [xb.shape[0] for xb, _ in _loader(X, batch_size=4)]
    assert shapes == [4, 4]
    last, _ = list(_loader(X, batch_size=4))[-1]
    np.testing.assert_array_equal(last[1:].numpy(), 0)
    assert [xb.shape[0] for xb, _ in _loader(X, np.arange(5), batch_size=4)] == [4, 1]


def test_read_only_arrays_are_read_without_warnings():
    import warnings

    X = np.ones((5, 6), dtype=np.float32)
    X.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        list(_loader(X, batch_size=2))


def test_preloaded_data_give_the_same_batches():
    X = np.random.default_rng(0).random((9, 6)).astype(np.float32)
    y = np.arange(9)
    with seeded(0, "cpu"):
        streamed = [(xb.clone(), yb.clone()) for xb, yb in _loader(X, y, shuffle=True)]
    with seeded(0, "cpu"):
        preloaded = list(_loader(X, y, shuffle=True, preload=True))
    for (a, ya), (b, yb) in zip(streamed, preloaded, strict=True):
        torch.testing.assert_close(a, b)
        torch.testing.assert_close(ya, yb)


def test_preload_auto_keeps_data_on_the_cpu_and_asks_the_gpu_for_room(monkeypatch):
    X = np.zeros((10, 6), dtype=np.uint8)
    assert not isinstance(_loader(X, preload="auto").X, torch.Tensor)  # CPU: slices of X
    free = {"bytes": 1000}
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (free["bytes"], 2000))
    assert fits_on_device(X.nbytes, "cuda:0")  # 60 bytes of 1000 free
    free["bytes"] = 100
    assert not fits_on_device(X.nbytes, "cuda")  # more than half of what is free
    assert not fits_on_device(0, "cpu")


def test_loader_reads_subsets_from_train_split():
    X = np.arange(12, dtype=np.float32).reshape(2, 6).repeat(3, axis=0)
    subset = Subset(ArrayDataset(X, np.arange(6)), [4, 1])
    ((xb, yb),) = list(BatchLoader(subset, batch_size=8, spec=_reading()))
    assert yb.tolist() == [4, 1]


def test_loader_refuses_other_datasets():
    with pytest.raises(TypeError, match="ArrayDataset"):
        BatchLoader([1, 2], spec=_reading((1, 1, 1)))


def test_random_shift_translates_each_image_within_bounds():
    images = torch.zeros(200, 1, 9, 9)
    images[:, 0, 4, 4] = 1.0  # one lit pixel in the centre
    shifted = random_shift(images, 2)
    assert shifted.shape == images.shape
    assert torch.equal(shifted.sum(dim=(1, 2, 3)), torch.ones(200))  # moved, not lost
    rows, cols = shifted[:, 0].nonzero(as_tuple=True)[1:]
    offsets = set(zip((rows - 4).tolist(), (cols - 4).tolist(), strict=True))
    assert offsets <= {(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)}
    assert len(offsets) > 15  # offsets differ per image


def test_random_shift_fills_with_zeros_and_zero_shift_is_identity():
    images = torch.ones(50, 2, 5, 5)
    shifted = random_shift(images, 1)
    assert set(shifted.unique().tolist()) == {0.0, 1.0}
    # the pixels left after a shift by (dy, dx): (5 - |dy|) * (5 - |dx|) per channel
    kept = shifted.sum(dim=(2, 3))  # [50, 2]
    assert set(kept.flatten().tolist()) <= {25.0, 20.0, 16.0}
    assert (kept < 25).float().mean() > 0.5  # 8 of 9 offsets move the image
    assert torch.equal(random_shift(images, 0), images)


def test_auto_device_falls_back_to_cpu_and_cuda_is_checked(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu"
    with pytest.raises(ValueError, match="no CUDA GPU"):
        resolve_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert resolve_device("auto") == "cuda"
    assert resolve_device("cuda:0") == "cuda:0"
    with pytest.raises(ValueError, match="sees 1 GPU"):
        resolve_device("cuda:3")
    with pytest.raises(ValueError, match="not a torch device"):
        resolve_device("gpu please")


def test_auto_device_picks_mps_where_pytorch_offers_it_and_cuda_first(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu"
    with pytest.raises(ValueError, match="no MPS"):
        resolve_device("mps")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert resolve_device("auto") == "mps"
    assert resolve_device("mps") == "mps"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == "cuda"


def test_seeding_on_mps_restores_the_callers_mps_generator(monkeypatch):
    states = {"mps": torch.tensor([7])}
    monkeypatch.setattr(torch.mps, "get_rng_state", lambda: states["mps"].clone())
    monkeypatch.setattr(torch.mps, "set_rng_state", lambda state: states.update(mps=state))
    monkeypatch.setattr(torch, "manual_seed", lambda seed: states.update(mps=torch.tensor([seed])))
    with seeded(3, "mps"):
        assert states["mps"].item() == 3
    assert states["mps"].item() == 7


def test_random_flip_mirrors_about_half_of_the_images():
    images = torch.arange(3.0).repeat(400, 1, 3, 1)  # every row reads 0, 1, 2
    flipped = random_flip(images)
    mirrored = (flipped[:, 0, 0, 0] == 2).float().mean()
    assert 0.4 < mirrored < 0.6
    assert torch.equal(flipped.sort(dim=-1).values, images)


def test_loader_flips_only_when_asked():
    X = np.tile(np.array([0, 1, 2], dtype=np.float32), (64, 2))  # 2x3 images, rows 0 1 2
    rows = [xb for xb, _ in _loader(X, np.zeros(64), batch_size=64, flip=True)][0]
    assert (rows[:, 0] == 2).any() and (rows[:, 0] == 0).any()
    rows = [xb for xb, _ in _loader(X, np.zeros(64), batch_size=64)][0]
    assert (rows[:, 0] == 0).all()
