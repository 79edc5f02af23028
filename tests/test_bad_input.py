"""Every bad input is refused before training, with a message naming the problem and the fix."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

from sklearn_capsnet import CapsNetClassifier

rng = np.random.default_rng(0)
X_OK = rng.random((30, 16))
Y_OK = np.arange(30) % 3
LABELS = [("cat", "dog", "bird")[k] for k in Y_OK]


def _with(value, where=(0, 0)):
    X = X_OK.copy()
    X[where] = value
    return X


FIT_CASES = {
    "nan in X": (_with(np.nan), Y_OK, {}, ValueError, "NaN"),
    "inf in X": (_with(np.inf), Y_OK, {}, ValueError, "infinity"),
    "empty X": (np.empty((0, 16)), np.empty(0), {}, ValueError, "0 sample"),
    "empty list": ([], [], {}, ValueError, "0 sample"),
    "no features": (np.empty((30, 0)), Y_OK, {}, ValueError, "0 feature"),
    "1-D X": (X_OK[:, 0], Y_OK, {}, ValueError, "Expected 2D array"),
    "single class": (X_OK, np.zeros(30), {}, ValueError, "at least 2 classes"),
    "y of another length": (X_OK, Y_OK[:-1], {}, ValueError, "inconsistent numbers of samples"),
    "strings in X": (X_OK.astype(str).astype(object) + "x", Y_OK, {}, ValueError, "convert"),
    "complex X": (X_OK + 1j, Y_OK, {}, ValueError, "Complex data not supported"),
    "sparse X": (sp.csr_matrix(X_OK), Y_OK, {}, TypeError, "toarray"),
    "continuous y": (X_OK, rng.random(30), {}, ValueError, "continuous"),
    "nan in y": (X_OK, np.where(Y_OK == 0, np.nan, Y_OK), {}, ValueError, "missing label"),
    "None among string labels": (
        X_OK,
        LABELS[:2] + [None] + LABELS[3:],
        {},
        ValueError,
        "missing label .* 1 sample.*position 2",
    ),
    "NaN in a Series of strings": (
        X_OK,
        pd.Series(LABELS).where(Y_OK != 1),
        {},
        ValueError,
        "missing label .* 10 sample.*position 1",
    ),
    "pd.NA in nullable ints": (
        X_OK,
        pd.Series(Y_OK, dtype="Int64").where(Y_OK != 2),
        {},
        ValueError,
        "missing label .*position 2",
    ),
    "None in a categorical": (
        X_OK,
        pd.Categorical(LABELS[:-1] + [None]),
        {},
        ValueError,
        "missing label .*position 29",
    ),
    "NaN in an indicator matrix": (
        X_OK,
        np.where(np.eye(3)[Y_OK] == 1, np.nan, 0),
        {},
        ValueError,
        "missing label .* 30 sample",
    ),
    "beyond float32": (_with(1e300), Y_OK, {}, ValueError, "float32"),
    "input_shape mismatch": (
        X_OK,
        Y_OK,
        {"input_shape": (1, 5, 5)},
        ValueError,
        "has 16 features",
    ),
    "input_shape not 3 ints": (
        X_OK,
        Y_OK,
        {"input_shape": (4, 4)},
        ValueError,
        "channels, height",
    ),
    "5-D X": (X_OK.reshape(30, 1, 2, 2, 4), Y_OK, {}, ValueError, "dimensions"),
    "routing_iterations 0": (X_OK, Y_OK, {"routing_iterations": 0}, ValueError, "routing_iter"),
    "batch_size 2.5": (X_OK, Y_OK, {"batch_size": 2.5}, ValueError, "batch_size"),
    "predict_batch_size 0": (X_OK, Y_OK, {"predict_batch_size": 0}, ValueError, "predict_batch"),
    "negative max_epochs": (X_OK, Y_OK, {"max_epochs": -1}, ValueError, "max_epochs"),
    "unknown device": (X_OK, Y_OK, {"device": "tpu9"}, ValueError, "device"),
    "unknown routing": (X_OK, Y_OK, {"routing": "em"}, ValueError, "routing"),
    "lr_decay above 1": (X_OK, Y_OK, {"lr_decay": 1.5}, ValueError, "lr_decay"),
    "bad decoder": (X_OK, Y_OK, {"decoder_hidden": (0,)}, ValueError, "decoder_hidden"),
    "unknown nested param": (X_OK, Y_OK, {"module__x": 1}, ValueError, "module__x"),
}


@pytest.mark.parametrize("case", FIT_CASES, ids=list(FIT_CASES))
def test_fit_rejects_bad_input_before_training(one_epoch, case):
    X, y, params, error, message = FIT_CASES[case]
    clf = CapsNetClassifier(**{**one_epoch, **params})
    with pytest.raises(error, match=message):
        clf.fit(X, y)
    assert not hasattr(clf, "net_")


def test_a_missing_label_leaves_a_fitted_model_as_it_was(one_epoch):
    clf = CapsNetClassifier(**one_epoch, random_state=0).fit(X_OK, LABELS)
    weights = {k: v.clone() for k, v in clf.net_.module_.state_dict().items()}
    with pytest.raises(ValueError, match="missing label"):
        clf.partial_fit(X_OK, LABELS[:-1] + [None])
    assert clf.n_iter_ == 1 and clf.classes_.tolist() == ["bird", "cat", "dog"]
    for key, value in clf.net_.module_.state_dict().items():
        assert torch.equal(value, weights[key]), key


@pytest.mark.parametrize(
    "y, shown",
    [(np.zeros(30, int), "0"), (np.zeros(30), "0.0"), (["cat"] * 30, "'cat'")],
)
def test_the_one_class_error_shows_the_label_as_written(one_epoch, y, shown):
    with pytest.raises(ValueError, match="at least 2 classes") as error:
        CapsNetClassifier(**one_epoch).fit(X_OK, y)
    assert str(error.value).endswith(f"only one class: {shown}. Add samples of another class.")


@pytest.fixture(scope="module")
def table_model(one_epoch):
    return CapsNetClassifier(**one_epoch, random_state=0).fit(X_OK, Y_OK)


@pytest.fixture(scope="module")
def fitted_images(one_epoch):
    images = X_OK.reshape(30, 4, 4)
    return CapsNetClassifier(**one_epoch, random_state=0).fit(images, Y_OK)


PREDICT_CASES = {
    "other feature count": (
        rng.random((5, 15)),
        "15 features, but CapsNetClassifier is expecting 16",
    ),
    "nan": (_with(np.nan)[:5], "NaN"),
    "strings": (np.full((5, 16), "a", dtype=object), "convert"),
    "empty": (np.empty((0, 16)), "0 sample"),
    "empty list": ([], "0 sample"),
}


@pytest.mark.parametrize("case", PREDICT_CASES, ids=list(PREDICT_CASES))
@pytest.mark.parametrize(
    "method",
    ["predict", "predict_proba", "reconstruct", "reconstruction_error", "coupling_coefficients"],
)
def test_predict_rejects_bad_input_and_leaves_the_model_as_it_was(table_model, case, method):
    before = table_model.predict_proba(X_OK)
    X, message = PREDICT_CASES[case]
    with pytest.raises(ValueError, match=message):
        getattr(table_model, method)(X)
    np.testing.assert_array_equal(table_model.predict_proba(X_OK), before)


PREDICTION_PARAMS = {
    "predict_batch_size": 0,
    "mixed_precision": "fp16",
    "threshold": 1.5,
}


@pytest.mark.parametrize("name", PREDICTION_PARAMS)
def test_bad_prediction_params_set_after_fit_are_refused_at_predict(
    table_model, monkeypatch, name
):
    monkeypatch.setattr(table_model, name, PREDICTION_PARAMS[name])  # set_params does not validate
    with pytest.raises(ValueError, match=f"The '{name}' parameter of CapsNetClassifier"):
        table_model.predict(X_OK)


def test_one_grey_image_at_predict_is_told_to_add_the_batch_axis(fitted_images):
    image = rng.random((4, 4))
    with pytest.raises(ValueError, match=r"X is one 4×4 image.*pass X\[None\]"):
        fitted_images.predict(image)
    assert fitted_images.predict(image[None]).shape == (1,)


def test_predict_rejects_images_of_another_shape(fitted_images):
    with pytest.raises(ValueError, match=r"fitted on images of shape \(4, 4\); resize X"):
        fitted_images.predict(rng.random((5, 2, 8)))


def test_to_onnx_without_the_onnx_packages_names_the_extra_to_install(
    table_model, monkeypatch, tmp_path
):
    import sys

    monkeypatch.setitem(sys.modules, "onnxscript", None)  # as if not installed
    with pytest.raises(ImportError, match=r"pip install 'sklearn-capsnet\[onnx\]'"):
        table_model.to_onnx(tmp_path / "model.onnx")
    assert not (tmp_path / "model.onnx").exists()


@pytest.mark.parametrize("method", ["reconstruction_error", "coupling_coefficients", "to_onnx"])
def test_capsule_methods_before_fit_say_fit_first(method, tmp_path):
    from sklearn.exceptions import NotFittedError

    argument = tmp_path / "model.onnx" if method == "to_onnx" else X_OK
    with pytest.raises(NotFittedError, match="fit"):
        getattr(CapsNetClassifier(), method)(argument)


def test_predict_before_fit_says_fit_first():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError, match="fit"):
        CapsNetClassifier().predict(X_OK)


def test_cuda_without_a_gpu_is_a_clear_error(one_epoch, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    clf = CapsNetClassifier(**one_epoch, device="cuda")
    with pytest.raises(ValueError, match="no CUDA GPU"):
        clf.fit(X_OK, Y_OK)
    assert CapsNetClassifier(**one_epoch, device="auto").fit(X_OK, Y_OK).device_ == "cpu"


def test_dataframes_with_mixed_numeric_dtypes_are_accepted_and_text_columns_refused(one_epoch):
    import pandas as pd

    frame = pd.DataFrame(X_OK, columns=[f"c{i}" for i in range(16)])
    frame["c0"] = (frame["c0"] * 10).astype("int64")
    frame["c1"] = frame["c1"].astype("float32")
    frame["c2"] = frame["c2"] > 0.5
    clf = CapsNetClassifier(**one_epoch, random_state=0).fit(frame, Y_OK)
    assert clf.predict(frame).shape == (30,)
    frame["c3"] = "text"
    with pytest.raises(ValueError, match="convert"):
        CapsNetClassifier(**one_epoch).fit(frame, Y_OK)


@pytest.mark.parametrize("case", PREDICT_CASES, ids=list(PREDICT_CASES))
def test_transform_rejects_bad_input_and_leaves_the_model_as_it_was(one_epoch, case):
    from sklearn_capsnet import CapsuleTransformer

    caps = CapsuleTransformer(**one_epoch, random_state=0).fit(X_OK, Y_OK)
    before = caps.transform(X_OK)
    X, message = PREDICT_CASES[case]
    with pytest.raises(
        ValueError, match=message.replace("CapsNetClassifier", "CapsuleTransformer")
    ):
        caps.transform(X)
    np.testing.assert_array_equal(caps.transform(X_OK), before)


@pytest.mark.parametrize("dtype", [np.float16, np.uint8, np.int32, np.uint16, bool])
def test_every_numeric_dtype_is_accepted(one_epoch, dtype):
    X = (X_OK * 100).astype(dtype)
    clf = CapsNetClassifier(**one_epoch, random_state=0).fit(X, Y_OK)
    assert np.isfinite(clf.predict_proba(X)).all()


def test_sparse_input_is_refused_at_predict_too(one_epoch):
    clf = CapsNetClassifier(**one_epoch, random_state=0).fit(X_OK, Y_OK)
    with pytest.raises(TypeError, match="toarray"):
        clf.predict(sp.csr_matrix(X_OK))
