"""to_onnx: the exported graph predicts from raw rows as predict_proba does (onnxruntime)."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import make_classification, make_multilabel_classification

from sklearn_capsnet import CapsNetClassifier, CapsuleTransformer
from sklearn_capsnet._testing import tiny

pytest.importorskip("onnxscript", reason="to_onnx needs onnx and onnxscript")
onnxruntime = pytest.importorskip("onnxruntime")


def run(path, rows):
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"X": np.asarray(rows, dtype=np.float32)})


def colour_images():
    """Channels-last uint8 colour images, two string classes."""
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (60, 12, 12, 3), dtype=np.uint8)
    y = np.where(X[..., 0].mean(axis=(1, 2)) > X[..., 2].mean(axis=(1, 2)), "red", "blue")
    return X, y


def table():
    """A DataFrame of features on different scales, three classes."""
    X, y = make_classification(
        n_samples=120, n_features=6, n_informative=4, n_classes=3, random_state=0
    )
    X = pd.DataFrame(X * [1, 10, 100, 1, 0.1, 1000], columns=list("abcdef"))
    return X, y


@pytest.mark.parametrize("routing", ["dynamic", "self_attention", "inverted_attention"])
@pytest.mark.parametrize("data", [colour_images, table])
def test_onnx_probabilities_match_predict_proba_on_a_new_batch_size(tmp_path, routing, data):
    X, y = data()
    clf = CapsNetClassifier(**tiny(max_epochs=2, routing=routing), random_state=0).fit(X, y)
    path = tmp_path / "model.onnx"
    clf.to_onnx(path)
    rows = np.asarray(X[:13]).reshape(13, -1)  # 13: not the export's batch size
    probabilities, capsules = run(path, rows)
    assert probabilities.shape == (13, len(clf.classes_))
    np.testing.assert_allclose(probabilities, clf.predict_proba(X[:13]), atol=1e-4)
    np.testing.assert_allclose(capsules, clf.capsules(X[:13]), atol=1e-4)
    (one, _) = run(path, rows[:1])  # and a batch of one
    np.testing.assert_allclose(one, clf.predict_proba(X[:1]), atol=1e-4)
    predicted = clf.classes_[probabilities.argmax(axis=1)]
    np.testing.assert_array_equal(predicted, clf.predict(X[:13]))


@pytest.mark.parametrize("share", ["positions", "all"])
def test_onnx_of_shared_prediction_matrices_matches_predict_proba(tmp_path, share):
    X, y = colour_images()
    clf = CapsNetClassifier(**tiny(max_epochs=2, share_transforms=share), random_state=0)
    clf.fit(X, y)
    assert clf.net_.capsnet().classes.weight.shape[0] < clf.net_.capsnet().n_primary
    clf.to_onnx(tmp_path / "model.onnx")
    probabilities, capsules = run(tmp_path / "model.onnx", X[:13].reshape(13, -1))
    np.testing.assert_allclose(probabilities, clf.predict_proba(X[:13]), atol=1e-4)
    np.testing.assert_allclose(capsules, clf.capsules(X[:13]), atol=1e-4)


@pytest.mark.parametrize("front_end", ["conv", "space_to_depth", "resize"])
def test_onnx_of_a_large_image_model_runs_its_front_end(tmp_path, front_end):
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (40, 40, 70, 3), dtype=np.uint8)
    y = np.where(X[..., 0].mean(axis=(1, 2)) > X[..., 2].mean(axis=(1, 2)), "red", "blue")
    params = tiny(max_epochs=1, front_end=front_end, mixed_precision="no")  # float32, as ONNX
    # a working size of 16: rows halved once (20) and columns twice (18), then resampled
    clf = CapsNetClassifier(**params, primary_grid=4, random_state=0).fit(X, y)
    assert clf.net_.capsnet().front.output_shape[1:] == (16, 16)
    clf.to_onnx(tmp_path / "model.onnx")
    probabilities, capsules = run(tmp_path / "model.onnx", X[:7].reshape(7, -1))
    np.testing.assert_allclose(probabilities, clf.predict_proba(X[:7]), atol=1e-4)
    np.testing.assert_allclose(capsules, clf.capsules(X[:7]), atol=1e-4)


def test_the_onnx_file_carries_classes_and_reading_as_metadata(tmp_path):
    X, y = colour_images()
    clf = CapsNetClassifier(**tiny(max_epochs=1), random_state=0).fit(X, y)
    clf.to_onnx(tmp_path / "model.onnx")
    session = onnxruntime.InferenceSession(str(tmp_path / "model.onnx"))
    meta = session.get_modelmeta().custom_metadata_map
    classes = np.array(json.loads(meta["sklearn_capsnet.classes"]))
    np.testing.assert_array_equal(classes, ["blue", "red"])
    assert json.loads(meta["sklearn_capsnet.input_shape"]) == [3, 12, 12]
    assert meta["sklearn_capsnet.data_format"] == "channels_last"
    assert json.loads(meta["sklearn_capsnet.multilabel"]) is False
    probabilities, _ = run(tmp_path / "model.onnx", X[:6].reshape(6, -1))
    np.testing.assert_array_equal(classes[probabilities.argmax(axis=1)], clf.predict(X[:6]))
    frame, labels = table()
    clf = CapsNetClassifier(**tiny(max_epochs=1), random_state=0).fit(frame, labels)
    clf.to_onnx(tmp_path / "table.onnx")
    session = onnxruntime.InferenceSession(str(tmp_path / "table.onnx"))
    meta = session.get_modelmeta().custom_metadata_map
    assert json.loads(meta["sklearn_capsnet.feature_names_in"]) == list("abcdef")


def test_onnx_of_a_bf16_model_is_float32_and_matches_float32_prediction(tmp_path):
    X, y = colour_images()
    clf = CapsNetClassifier(**tiny(max_epochs=1, mixed_precision="bf16"), random_state=0)
    clf.fit(X, y)
    clf.to_onnx(tmp_path / "model.onnx")
    assert clf.net_.precision is not None  # the export left the fitted model as it was
    probabilities, _ = run(tmp_path / "model.onnx", X[:5].reshape(5, -1))
    assert probabilities.dtype == np.float32
    float32 = clf.set_params(mixed_precision="no").predict_proba(X[:5])
    np.testing.assert_allclose(probabilities, float32, atol=1e-4)


def test_onnx_of_a_multilabel_model_gives_the_capsule_lengths(tmp_path):
    X, Y = make_multilabel_classification(n_samples=80, n_features=8, n_classes=3, random_state=0)
    clf = CapsNetClassifier(**tiny(max_epochs=2, input_shape=(8, 1, 1)), random_state=0)
    clf.fit(X, Y)
    clf.to_onnx(tmp_path / "model.onnx")
    probabilities, _ = run(tmp_path / "model.onnx", X[:9])
    np.testing.assert_allclose(probabilities, clf.predict_proba(X[:9]), atol=1e-4)


def test_the_transformer_exports_its_capsules(tmp_path):
    X, y = table()
    transformer = CapsuleTransformer(**tiny(max_epochs=1), random_state=0).fit(X, y)
    transformer.to_onnx(tmp_path / "model.onnx")
    _, capsules = run(tmp_path / "model.onnx", X[:4])
    np.testing.assert_allclose(capsules, transformer.capsules(X[:4]), atol=1e-4)


def test_exporting_leaves_the_fitted_network_as_it_was(tmp_path):
    X, y = table()
    clf = CapsNetClassifier(**tiny(max_epochs=1), random_state=0).fit(X, y)
    module = clf.net_.module_
    module.train()  # as between two partial_fit calls
    before = {name: value.clone() for name, value in module.state_dict().items()}
    clf.to_onnx(tmp_path / "model.onnx")
    assert clf.net_.module_ is module and module.training
    for name, value in module.state_dict().items():
        assert torch.equal(value, before[name]), name


def test_to_onnx_into_a_missing_folder_says_so_before_exporting(tmp_path):
    X, y = table()
    clf = CapsNetClassifier(**tiny(max_epochs=1), random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="does not exist; create it first"):
        clf.to_onnx(tmp_path / "nowhere" / "model.onnx")
