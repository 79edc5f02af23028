"""Multilabel capsules: one capsule per label, each predicted independently."""

import numpy as np
import pytest
from sklearn.datasets import make_multilabel_classification

from sklearn_capsnet import CapsNetClassifier, CapsuleTransformer
from sklearn_capsnet._testing import tiny

# tabular counts, not a 4x4 image; a constant rate: per-label accuracy 0.83 (chance 0.57)
MULTILABEL_TABLE = tiny(max_epochs=40, lr_decay=1.0, input_shape=(16, 1, 1))


@pytest.fixture(scope="module")
def data():
    X, Y = make_multilabel_classification(
        n_samples=300, n_features=16, n_classes=4, n_labels=2, random_state=0
    )
    return X, Y


@pytest.fixture(scope="module")
def multilabel_model(data):
    X, Y = data
    return CapsNetClassifier(**MULTILABEL_TABLE, random_state=0).fit(X, Y)


def test_indicator_targets_give_indicator_predictions(multilabel_model, data):
    X, Y = data
    assert multilabel_model.multilabel_
    np.testing.assert_array_equal(multilabel_model.classes_, np.arange(4))
    predicted = multilabel_model.predict(X)
    assert predicted.shape == Y.shape
    assert set(np.unique(predicted)) <= {0, 1}
    assert (predicted == Y).mean() > 0.8  # per-label accuracy


def test_multilabel_probabilities_are_capsule_lengths_thresholded_by_predict(
    multilabel_model, data
):
    X, _ = data
    proba = multilabel_model.predict_proba(X)
    assert proba.shape == (len(X), 4)
    assert np.all((proba >= 0) & (proba < 1))
    lengths = np.linalg.norm(multilabel_model.capsules(X), axis=-1)
    np.testing.assert_allclose(proba, lengths, rtol=1e-6)
    predictions = {}
    for threshold in (0.3, 0.7):  # prediction reads the threshold of the fitted model
        multilabel_model.set_params(threshold=threshold)
        predictions[threshold] = multilabel_model.predict(X)
        np.testing.assert_array_equal(predictions[threshold], (lengths > threshold).astype(int))
    multilabel_model.set_params(threshold=MULTILABEL_TABLE.get("threshold", 0.5))
    assert predictions[0.7].sum() < predictions[0.3].sum()


def test_decoder_is_fed_every_active_capsule(multilabel_model, data, monkeypatch):
    X, _ = data
    seen = []
    real = multilabel_model.net_.module_.reconstruct

    def spy(capsules, labels=None):
        seen.append(labels)
        return real(capsules, labels)

    monkeypatch.setattr(multilabel_model.net_.module_, "reconstruct", spy)
    multilabel_model.reconstruct(X[:10])
    labels = seen[0][:10]  # the batch of 16 rows holds the 10 asked for, then padding
    assert labels.shape == (10, 4)
    np.testing.assert_array_equal(labels.numpy(), multilabel_model.predict(X[:10]))


def test_training_masks_the_capsules_of_all_true_labels(data):
    import torch

    from sklearn_capsnet.nn import mask_capsules

    capsules = torch.ones(2, 3, 2)
    mask = mask_capsules(capsules, torch.tensor([[1, 0, 1], [0, 0, 0]]))
    np.testing.assert_array_equal(mask.numpy(), [[1, 1, 0, 0, 1, 1], [0, 0, 0, 0, 0, 0]])


def test_score_is_exact_match_accuracy(multilabel_model, data):
    X, Y = data
    assert multilabel_model.score(X, Y) == pytest.approx(
        np.all(multilabel_model.predict(X) == Y, axis=1).mean()
    )


def test_multilabel_and_single_label_targets_do_not_mix(multilabel_model, data):
    X, Y = data
    with pytest.raises(ValueError, match="fitted on a multilabel indicator matrix"):
        multilabel_model.partial_fit(X, Y[:, 0] + 5)
    with pytest.raises(ValueError, match="fitted on 4 labels"):
        multilabel_model.partial_fit(X, Y[:, :3])
    with pytest.raises(ValueError, match="multiclass-multioutput"):
        CapsNetClassifier(**MULTILABEL_TABLE).fit(X, Y * 3 - Y[:, ::-1])


def test_multilabel_transformer_and_safe_file(tmp_path, data):
    X, Y = data
    caps = CapsuleTransformer(**{**MULTILABEL_TABLE, "max_epochs": 2}, random_state=0).fit(X, Y)
    assert caps.transform(X).shape == (len(X), 4 * MULTILABEL_TABLE["capsule_dim"])
    clf = CapsNetClassifier(**{**MULTILABEL_TABLE, "max_epochs": 2}, random_state=0).fit(X, Y)
    clf.save(tmp_path / "m.safetensors")
    loaded = CapsNetClassifier.load(tmp_path / "m.safetensors")
    assert loaded.multilabel_
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
