"""The Fashion-MNIST loader on IDX files the tests write, and on Debian's when present."""

import numpy as np
import pytest
from idx_files import write_idx

from sklearn_capsnet.datasets import (
    FASHION_MNIST_DEFAULT,
    load_fashion_mnist,
    make_gratings,
    read_idx,
)


@pytest.fixture
def fake_home(tmp_path):
    rng = np.random.default_rng(0)
    write_idx(tmp_path / "train-images-idx3-ubyte", rng.integers(0, 256, (6, 28, 28)))
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.arange(6) % 10)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", rng.integers(0, 256, (4, 28, 28)), False)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.array([9, 8, 7, 6]), False)
    return tmp_path


def test_loader_reads_gzipped_and_plain_idx_files(fake_home):
    bunch = load_fashion_mnist(data_home=fake_home)
    assert bunch.data.shape == (6, 784) and bunch.data.dtype == np.uint8
    assert bunch.images.shape == (6, 28, 28)
    np.testing.assert_array_equal(bunch.target, np.arange(6))
    assert bunch.target_names[9] == "Ankle boot"
    X, y = load_fashion_mnist(data_home=fake_home, subset="test", return_X_y=True)
    np.testing.assert_array_equal(y, [9, 8, 7, 6])
    X_all, y_all = load_fashion_mnist(data_home=fake_home, subset="all", return_X_y=True)
    assert X_all.shape == (10, 784)
    np.testing.assert_array_equal(X_all[6:], X)


def test_loader_as_frame(fake_home):
    bunch = load_fashion_mnist(data_home=fake_home, as_frame=True)
    assert list(bunch.data.columns[:2]) == ["pixel_0_0", "pixel_0_1"]
    assert bunch.target.name == "class"
    assert bunch.frame.shape == (6, 785)


def test_environment_variable_names_the_folder(fake_home, monkeypatch):
    monkeypatch.setenv("SKLEARN_CAPSNET_FASHION_MNIST", str(fake_home))
    assert load_fashion_mnist(subset="test", return_X_y=True)[0].shape == (4, 784)


def test_missing_files_say_how_to_get_them(tmp_path):
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
        load_fashion_mnist(data_home=tmp_path)


def test_truncated_or_foreign_files_are_refused(fake_home):
    path = fake_home / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        load_fashion_mnist(data_home=fake_home, subset="test")
    path.write_bytes(b"PK\x03\x04 not an idx file")
    with pytest.raises(ValueError, match="bad header"):
        read_idx(path)
    gz = fake_home / "train-images-idx3-ubyte.gz"
    gz.write_bytes(gz.read_bytes()[:50])
    with pytest.raises(ValueError, match="not a readable IDX file"):
        load_fashion_mnist(data_home=fake_home)


def test_mismatched_images_and_labels_are_refused(fake_home):
    write_idx(fake_home / "t10k-labels-idx1-ubyte", np.arange(3), gzipped=False)
    with pytest.raises(ValueError, match="do not hold images and labels of one set"):
        load_fashion_mnist(data_home=fake_home, subset="test")


def test_unknown_subset_is_refused(fake_home):
    with pytest.raises(ValueError, match="subset='valid'"):
        load_fashion_mnist(data_home=fake_home, subset="valid")


@pytest.mark.skipif(
    not (FASHION_MNIST_DEFAULT / "t10k-labels-idx1-ubyte.gz").exists(),
    reason="Debian's dataset-fashion-mnist is not installed",
)
def test_debian_fashion_mnist_files_load():
    X, y = load_fashion_mnist(subset="test", return_X_y=True)
    assert X.shape == (10000, 784)
    np.testing.assert_array_equal(np.bincount(y), np.full(10, 1000))


def test_gratings_differ_only_in_detail_that_2x2_block_means_remove():
    X, y = make_gratings(60, size=(32, 24), noise=0.0, random_state=0)
    background, same_y = make_gratings(60, size=(32, 24), amplitude=(0, 0), noise=0.0,
                                       random_state=0)  # fmt: skip
    np.testing.assert_array_equal(y, same_y)
    assert X.shape == (60, 32, 24) and X.dtype == np.uint8 and set(y) == {0, 1, 2}
    texture = X.astype(float) - background  # ± the grating, in grey levels
    rows, cols = (-1.0) ** np.arange(32)[:, None], (-1.0) ** np.arange(24)[None, :]
    patterns = np.stack([rows + 0 * cols, 0 * rows + cols, rows * cols])  # [3, 32, 24]
    amplitude = np.abs(np.einsum("nhw,khw->nk", texture, patterns)) / (32 * 24)
    assert (amplitude.argmax(axis=1) == y).all()
    assert amplitude.max(axis=1).min() > 0.05 * 255 - 1  # at least the smallest amplitude
    blocks = X.reshape(60, 16, 2, 12, 2).astype(float).mean(axis=(2, 4))
    plain = background.reshape(60, 16, 2, 12, 2).astype(float).mean(axis=(2, 4))
    assert np.abs(blocks - plain).max() <= 1.0  # the grating is gone, up to rounding
