"""CapsNetClassifier as a user meets it: fit, predict, probabilities, data types."""

import copy

import numpy as np
import pandas as pd
import pytest
import torch
from reference import margin_loss_literal
from sklearn.base import clone

from sklearn_capsnet import CapsNetClassifier
from sklearn_capsnet._testing import tiny


@pytest.fixture
def digits_model_copy(digits_model):
    """The tiny network fitted for two epochs on the digits: each test's own copy."""
    return copy.deepcopy(digits_model)


def test_a_small_capsnet_learns_digits(digits):
    X_train, X_test, y_train, y_test = digits
    clf = CapsNetClassifier(**tiny(max_epochs=8), random_state=0)
    clf.fit(X_train, y_train)
    assert clf.score(X_test, y_test) > 0.85
    losses = clf.history_[:, "train_loss"]
    assert losses[-1] < losses[0]


def test_fitted_attributes(digits_model_copy, digits):
    assert list(digits_model_copy.classes_) == list(range(10))
    assert digits_model_copy.n_features_in_ == 64
    assert digits_model_copy.input_shape_ == (1, 8, 8)
    assert digits_model_copy.device_ == "cpu"
    assert digits_model_copy.n_iter_ == 2
    assert digits_model_copy.net_.module_.classes.weight.shape[1] == 10


def test_predict_proba_rows_sum_to_one_and_agree_with_predict(digits_model_copy, digits):
    _, X_test, _, _ = digits
    proba = digits_model_copy.predict_proba(X_test)
    assert proba.shape == (len(X_test), 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert np.all(proba >= 0)
    np.testing.assert_array_equal(
        digits_model_copy.classes_[proba.argmax(axis=1)], digits_model_copy.predict(X_test)
    )


def test_predictions_do_not_depend_on_batch_size(digits_model_copy, digits):
    _, X_test, _, _ = digits
    proba = digits_model_copy.predict_proba(X_test)
    other = clone(digits_model_copy).set_params(predict_batch_size=7)
    other.__dict__.update({k: v for k, v in vars(digits_model_copy).items() if k.endswith("_")})
    np.testing.assert_allclose(other.predict_proba(X_test), proba, rtol=1e-5)
    np.testing.assert_allclose(other.predict_proba(X_test[:5]), proba[:5], rtol=1e-5)
    # same batch size: bit for bit, whichever rows share the batch
    np.testing.assert_array_equal(digits_model_copy.predict_proba(X_test[3:4]), proba[3:4])


def test_predict_batch_size_sets_the_rows_of_each_prediction_step(
    digits_model_copy, digits, monkeypatch
):
    _, X_test, _, _ = digits
    sizes = []
    real_step = digits_model_copy.net_.forward_capsules

    def recording_step(x, precision=None):
        sizes.append(len(x))
        return real_step(x, precision)

    monkeypatch.setattr(digits_model_copy.net_, "forward_capsules", recording_step)
    digits_model_copy.predict(X_test[:20])
    assert sizes == [16, 16]  # batch_size, the last batch padded to full size
    sizes.clear()
    monkeypatch.setattr(digits_model_copy, "predict_batch_size", 8)
    digits_model_copy.predict(X_test[:20])
    assert sizes == [8, 8, 8]


def test_gpu_prediction_batches_default_to_at_least_1024_rows():
    from sklearn_capsnet.training.prediction import prediction_batch_size

    assert prediction_batch_size(None, 32, "cpu") == 32
    assert prediction_batch_size(None, 32, "cuda:0") == 1024
    assert prediction_batch_size(None, 4096, "cuda:0") == 4096
    assert prediction_batch_size(100, 4096, "cuda:0") == 100


def test_string_labels_come_back_as_strings(two_epochs, digits):
    X_train, X_test, y_train, _ = digits
    names = np.array(
        ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    )
    clf = CapsNetClassifier(**two_epochs, random_state=0).fit(X_train[:200], names[y_train[:200]])
    assert set(clf.predict(X_test)) <= set(names)
    assert list(clf.classes_) == sorted(names)


def test_same_random_state_gives_identical_predictions(two_epochs, digits):
    X_train, X_test, y_train, _ = digits
    # torch's threads fixed: adapting to a busy machine (the user guide's caveat), two fits
    # could run with different thread counts and differ in the last bits
    params = {**two_epochs, "callbacks__free_cores": None}
    a = CapsNetClassifier(**params, random_state=3).fit(X_train[:300], y_train[:300])
    b = CapsNetClassifier(**params, random_state=3).fit(X_train[:300], y_train[:300])
    np.testing.assert_array_equal(a.predict_proba(X_test), b.predict_proba(X_test))


def test_fit_leaves_global_torch_random_state_alone(one_epoch, digits):
    X_train, _, y_train, _ = digits
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    CapsNetClassifier(**one_epoch, random_state=0).fit(X_train[:64], y_train[:64])
    np.testing.assert_array_equal(torch.rand(3), expected)


@pytest.mark.parametrize("mode", [False, True])
def test_fit_and_predict_flush_denormals_and_leave_the_callers_mode(
    one_epoch, digits, mode, monkeypatch
):
    from sklearn_capsnet.nn.device import flushes_denormals
    from sklearn_capsnet.training.trainer import CapsNetTrainer

    X_train, _, y_train, _ = digits
    training, predicting = [], []
    from sklearn_capsnet.training import prediction as _prediction

    real_step, real_batches = CapsNetTrainer.train_step_single, _prediction._batches

    def step_spy(self, batch, **fit_params):
        training.append(flushes_denormals())
        return real_step(self, batch, **fit_params)

    def batches_spy(net, X, fn, batch_size):
        predicting.append(flushes_denormals())  # before prediction flushes
        for capsules in real_batches(net, X, fn, batch_size):
            predicting.append(flushes_denormals())
            yield capsules

    monkeypatch.setattr(CapsNetTrainer, "train_step_single", step_spy)
    monkeypatch.setattr(_prediction, "_batches", batches_spy)
    torch.set_flush_denormal(mode)
    try:
        clf = CapsNetClassifier(**one_epoch, random_state=0).fit(X_train[:64], y_train[:64])
        assert flushes_denormals() == mode
        clf.predict(X_train[:40])
        assert flushes_denormals() == mode
    finally:
        torch.set_flush_denormal(False)
    assert training == [True] * 4  # 64 rows, four batches of 16
    assert predicting == [mode, True, True, True]  # 40 rows, three batches of 16


@pytest.mark.parametrize("dtype", [np.uint8, np.int64, np.float32, np.float16])
def test_numeric_dtypes_train_the_same_model(one_epoch, digits, dtype):
    X_train, X_test, y_train, _ = digits
    reference = CapsNetClassifier(**one_epoch, random_state=0)
    reference.fit(X_train[:200], y_train[:200])
    clf = CapsNetClassifier(**one_epoch, random_state=0)
    clf.fit(X_train[:200].astype(dtype), y_train[:200])
    np.testing.assert_allclose(
        clf.predict_proba(X_test.astype(dtype)), reference.predict_proba(X_test), rtol=1e-5
    )


def test_dataframes_keep_feature_names(one_epoch, digits):
    X_train, X_test, y_train, _ = digits
    columns = [f"pixel_{i}" for i in range(64)]
    frame = pd.DataFrame(X_train[:200], columns=columns)
    clf = CapsNetClassifier(**one_epoch, random_state=0).fit(frame, y_train[:200])
    np.testing.assert_array_equal(clf.feature_names_in_, columns)
    assert clf.input_shape_ == (1, 8, 8)
    clf.predict(pd.DataFrame(X_test, columns=columns))
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(pd.DataFrame(X_test, columns=columns[::-1]))


@pytest.mark.parametrize(
    ("shape", "input_shape"),
    [((64,), (1, 8, 8)), ((8, 8), (1, 8, 8)), ((1, 8, 8), (1, 8, 8)), ((10,), (10, 1, 1))],
)
def test_input_shape_is_inferred_from_x(one_epoch, shape, input_shape):
    rng = np.random.default_rng(0)
    X = rng.random((40, *shape), dtype=np.float32)
    y = np.arange(40) % 2
    clf = CapsNetClassifier(**one_epoch, random_state=0).fit(X, y)
    assert clf.input_shape_ == input_shape
    assert clf.n_features_in_ == int(np.prod(shape))
    assert clf.predict(X).shape == (40,)


def test_explicit_input_shape_turns_squares_into_tabular_features(one_epoch, digits):
    X_train, _, y_train, _ = digits
    clf = CapsNetClassifier(**one_epoch, input_shape=(64, 1, 1), random_state=0)
    clf.fit(X_train[:100], y_train[:100])
    assert clf.input_shape_ == (64, 1, 1)
    assert clf.net_.get_params()["iterator_train__shift"] == 0


def test_tabular_features_are_scaled_one_by_one_and_images_as_a_whole(one_epoch):
    X = np.column_stack([np.linspace(0, 1, 20), np.linspace(-50, 50, 20), np.ones(20)])
    clf = CapsNetClassifier(**one_epoch, random_state=0).fit(X, np.arange(20) % 2)
    np.testing.assert_allclose(clf.input_offset_, [0, -50, 1])
    np.testing.assert_allclose(clf.input_scale_, [1, 100, 1])
    images = np.random.default_rng(0).integers(0, 17, (20, 4, 4))
    clf = CapsNetClassifier(**one_epoch, random_state=0).fit(images, np.arange(20) % 2)
    assert np.all(clf.input_scale_ == images.max() - images.min())


@pytest.mark.parametrize(("side", "pixels"), [(8, 1), (28, 2), (40, 2), (100, 2)])
def test_default_shift_is_the_papers_two_pixels_scaled_down_never_up(one_epoch, side, pixels):
    images = np.zeros((4, side, side), dtype=np.uint8)
    images[:, side // 3 : 2 * side // 3, side // 3 : 2 * side // 3] = 255
    clf = CapsNetClassifier(**one_epoch, random_state=0).fit(images, [0, 1, 0, 1])
    assert clf.net_.get_params()["iterator_train__shift"] == pixels


def test_learning_rate_decays_exponentially_each_epoch(digits):
    X_train, _, y_train, _ = digits
    clf = CapsNetClassifier(**tiny(max_epochs=3, lr_decay=0.5), random_state=0)
    clf.fit(X_train[:64], y_train[:64])
    np.testing.assert_allclose(clf.history_[:, "event_lr"], [0.01, 0.005, 0.0025])


def test_verbose_says_what_will_run_where_and_prints_skorch_epoch_table(
    two_epochs, digits, capsys
):
    X_train, _, y_train, _ = digits
    CapsNetClassifier(**two_epochs, verbose=1, random_state=0).fit(X_train[:64], y_train[:64])
    out = capsys.readouterr().out
    assert "Training epochs 1-2 on cpu in float32: 64 rows, batches of 16." in out
    assert "train_loss" in out and "epoch" in out and "dur" in out  # time per epoch
    assert "precision" in out  # each epoch's row says it


def test_progress_bar_option_shows_tqdm_bar(two_epochs, digits, capsys):
    X_train, _, y_train, _ = digits
    clf = CapsNetClassifier(**two_epochs, progress_bar=True, random_state=0)
    clf.fit(X_train[:64], y_train[:64])
    err = capsys.readouterr().err
    assert "epoch 1/2" in err and "epoch 2/2" in err
    assert "train_loss=" in err and "tensor" not in err  # losses as plain numbers


def test_skorch_nested_parameters_reach_the_optimizer(two_epochs, digits):
    X_train, _, y_train, _ = digits
    clf = CapsNetClassifier(**two_epochs, optimizer__weight_decay=0.01, random_state=0)
    assert clf.get_params()["optimizer__weight_decay"] == 0.01
    assert clone(clf).get_params()["optimizer__weight_decay"] == 0.01
    clf.set_params(optimizer__weight_decay=0.02)
    clf.fit(X_train[:64], y_train[:64])
    assert clf.net_.optimizer_.param_groups[0]["weight_decay"] == 0.02


def test_reconstruct_returns_rows_in_the_units_of_x(one_epoch, digits):
    X_train, X_test, y_train, _ = digits
    X_train, X_test = X_train * 10 + 100, X_test * 10 + 100  # pixels in [100, 260]
    clf = CapsNetClassifier(**one_epoch, input_shape=(1, 8, 8), random_state=0)
    clf.fit(X_train, y_train)  # images: one range for all pixels (not pixel-like: 100-260)
    decoded = clf.reconstruct(X_test[:5])
    assert decoded.shape == (5, 64)
    # independently: scale by hand, run the module, map the [0, 1] output back
    net = clf.net_.module_
    x = torch.tensor((X_test[:5] - 100) / 160, dtype=torch.float32)
    with torch.no_grad():
        expected = net.reconstruct(net(x)).numpy() * 160 + 100
    np.testing.assert_allclose(decoded, expected, rtol=1e-4, atol=1e-3)
    assert decoded.min() >= 100 and decoded.max() <= 260


def test_train_split_reports_a_validation_loss(two_epochs, digits):
    from skorch.dataset import ValidSplit

    X_train, _, y_train, _ = digits
    clf = CapsNetClassifier(**two_epochs, train_split=ValidSplit(4), random_state=0)
    clf.fit(X_train[:200], y_train[:200])
    assert len(clf.history_[:, "valid_loss"]) == 2


def test_decision_function_is_the_log_odds_behind_predict_proba(
    one_epoch, digits_model_copy, digits
):
    from scipy.special import softmax

    _, X_test, _, _ = digits
    scores = digits_model_copy.decision_function(X_test)
    np.testing.assert_allclose(
        softmax(scores, axis=1), digits_model_copy.predict_proba(X_test), rtol=1e-6
    )
    binary = CapsNetClassifier(**one_epoch, random_state=0)
    binary.fit(X_test[:100], (digits[3][:100] > 4).astype(int))
    margin = binary.decision_function(X_test)
    assert margin.shape == (len(X_test),)
    np.testing.assert_array_equal(binary.predict(X_test), (margin > 0).astype(int))


def test_training_decodes_the_capsule_of_the_true_class_not_the_predicted_one(
    digits_model_copy, digits
):
    X_train, _, y_train, _ = digits
    net = digits_model_copy.net_
    x = torch.tensor(X_train[:8] / 16, dtype=torch.float32)
    with torch.no_grad():
        capsules = net.module_(x)
        predicted = capsules.norm(dim=-1).argmax(dim=1)
        other = (predicted + 1) % 10  # a label that is not the longest capsule
        loss = net.get_loss(capsules, other, X=x.flatten(1), training=True)
        recon = net.module_.reconstruct(capsules, other)
    lengths = capsules.norm(dim=-1).double()
    expected = margin_loss_literal(lengths, other) + digits_model_copy.reconstruction_weight * (
        ((recon - x.flatten(1)) ** 2).sum(dim=1).mean().double()
    )
    torch.testing.assert_close(loss.double(), expected, rtol=1e-5, atol=1e-6)


def test_the_decoder_aims_at_inputs_clamped_to_its_range(one_epoch, digits):
    # partial_fit keeps the scaling of its first call: later rows can leave [0, 1],
    # which the sigmoid decoder cannot draw; it is trained towards the nearest value.
    from sklearn_capsnet.nn import CapsuleLoss

    X_train, _, y_train, _ = digits
    clf = CapsNetClassifier(**one_epoch, random_state=0).fit(X_train[:64], y_train[:64])
    net = clf.net_
    x = torch.linspace(-1.0, 2.0, 4 * 64).reshape(4, 64)  # scaled inputs, half out of range
    y = torch.tensor(y_train[:4])
    with torch.no_grad():
        capsules = net.module_(x)
        loss = net.get_loss(capsules, y, x)
        reconstruction = net.module_.reconstruct(capsules, y)
    criterion = CapsuleLoss(clf.reconstruction_weight)
    expected = criterion(capsules, y, reconstruction, x.clamp(0, 1))
    torch.testing.assert_close(loss, expected)
    assert not torch.isclose(loss, criterion(capsules, y, reconstruction, x))


def test_every_loader_of_the_net_reads_rows_through_its_one_reading_onto_its_data_device(
    digits_model_copy, digits, monkeypatch
):
    from sklearn_capsnet.data.loader import ArrayDataset

    X_train, _, y_train, _ = digits
    net = digits_model_copy.net_
    monkeypatch.setattr(net, "data_device", lambda: "cpu:0")  # where accelerate would put data
    for training in (True, False):
        loader = net.get_iterator(ArrayDataset(X_train[:8], y_train[:8]), training=training)
        assert loader.device == torch.device("cpu:0")
        np.testing.assert_allclose(
            loader.read.inv_scale.numpy(), 1 / digits_model_copy.input_scale_, rtol=1e-6
        )
        np.testing.assert_array_equal(loader.read.offset.numpy(), digits_model_copy.input_offset_)


def test_the_progress_bar_shows_batch_losses_to_four_significant_digits():
    from types import SimpleNamespace

    from skorch.history import History

    from sklearn_capsnet.training.callbacks import EpochProgressBar

    history = History()
    history.new_epoch()
    history.new_batch()
    history.record_batch("train_loss", 0.78451)
    postfix = EpochProgressBar()._get_postfix_dict(SimpleNamespace(history=history))
    assert postfix == {"train_loss": "0.7845"}
