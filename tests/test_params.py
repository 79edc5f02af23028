"""One table describes each hyper-parameter; every consumer reads it."""

import inspect
import json

import numpy as np
import pytest
import torch

from sklearn_capsnet import CapsNetClassifier, CapsuleTransformer
from sklearn_capsnet.estimator.params import PARAMS, params_of, saved_codecs

ESTIMATORS = [CapsNetClassifier, CapsuleTransformer]

# a value other than the default for every saved parameter, all quick to train with
NON_DEFAULT = dict(
    routing_iterations=2,
    routing="self_attention",
    max_epochs=1,
    batch_size=16,
    predict_batch_size=7,
    lr=2e-3,
    lr_decay=0.9,
    early_stopping=True,
    validation_fraction=0.25,
    n_iter_no_change=3,
    tol=1e-3,
    class_weight={0: 2.0, 1: 0.5},
    reconstruction_weight=0.001,
    shift=1,
    flip=True,
    input_shape=(1, 4, 4),
    data_format="channels_first",
    front_end="resize",
    primary_grid=1,
    conv_channels=8,
    primary_types=2,
    primary_dim=4,
    share_transforms="positions",
    capsule_dim=6,
    decoder_hidden=(16,),
    optimizer=torch.optim.SGD,
    progress_bar=True,
    verbose=1,
    device="cpu",
    mixed_precision="no",
    compile=True,
    memory_format="channels_last",
    threshold=0.9,
    random_state=3,
    output="lengths",
)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_each_signature_holds_the_table_parameters_with_their_defaults(cls):
    signature = inspect.signature(cls.__init__).parameters
    named = {k: v.default for k, v in signature.items() if k not in ("self", "kwargs")}
    table = {p.name: p.default for p in params_of(cls.__name__)}
    assert list(named) == list(table)
    assert named == table


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_each_table_parameter_is_constrained_and_documented(cls):
    assert cls._parameter_constraints == {p.name: p.constraint for p in params_of(cls.__name__)}
    for p in params_of(cls.__name__):
        assert f"\n    {p.name} : {p.kind}, default=" in cls.__doc__, p.name
        assert inspect.cleandoc(p.doc).split("\n")[0] in cls.__doc__, p.name


# training-time objects the safe file leaves out (its docstring says so); all else is saved
NOT_SAVED = {"callbacks", "train_split", "checkpoint", "accelerator"}


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_the_safe_file_saves_every_parameter_but_training_objects(cls):
    names = [p.name for p in params_of(cls.__name__)]
    assert list(saved_codecs(cls.__name__)) == [name for name in names if name not in NOT_SAVED]


def test_every_saved_parameter_has_a_non_default_test_value():
    table = {p.name: p.default for p in PARAMS}
    for name in set(table) - NOT_SAVED:
        assert name in NON_DEFAULT and NON_DEFAULT[name] != table[name], name


def test_network_parameters_reach_the_module():
    X, y = np.random.default_rng(0).random((40, 16)), np.arange(40) % 2
    values = {p.name: NON_DEFAULT[p.name] for p in PARAMS if p.acts == "network"}
    clf = CapsNetClassifier(max_epochs=1, input_shape=(1, 4, 4), **values).fit(X, y)
    net = clf.net_.module_
    assert net.classes.routing.__class__.__name__ == "SelfAttentionRouting"
    assert net.front_end == values["front_end"]
    assert net.geometry.grid == (1, 1) and net.front.output_shape[1:] == (3, 3)  # 4×4 to 3×3
    assert net.conv[0].out_channels == values["conv_channels"]
    assert net.primary.capsule_types == values["primary_types"]
    assert net.primary.capsule_dim == values["primary_dim"]
    assert net.classes.weight.shape[2] == values["capsule_dim"]
    assert net.classes.weight.shape[0] == values["primary_types"]  # shared across positions
    assert net.decoder.layers[0].out_features == values["decoder_hidden"][0]
    assert net.primary.conv.weight.is_contiguous(memory_format=torch.channels_last)
    clf.set_params(routing="dynamic").fit(X, y)
    assert clf.net_.module_.classes.routing.iterations == values["routing_iterations"]


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_save_and_load_round_trip_every_saved_parameter(cls, tmp_path, capsys):
    X = np.random.default_rng(0).random((40, 16))
    Y = np.stack([np.arange(40) % 2, (np.arange(40) // 2) % 2], axis=1)  # multilabel
    names = {p.name for p in params_of(cls.__name__)} - NOT_SAVED
    params = {k: v for k, v in NON_DEFAULT.items() if k in names}
    # set after fit: compile compiles lazily, class_weight is not for multilabel y
    model = cls(**{**params, "compile": False, "class_weight": None}).fit(X, Y)
    model.set_params(compile=params["compile"], class_weight=params["class_weight"])
    model.save(tmp_path / "model.safetensors")
    loaded = cls.load(tmp_path / "model.safetensors", device="cpu")
    assert {k: loaded.get_params()[k] for k in params} == params  # tuples as tuples
    model.set_params(compile=False)
    loaded.set_params(compile=False)
    if cls is CapsNetClassifier:  # threshold decides multilabel predictions
        np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
        np.testing.assert_allclose(
            loaded.decision_function(X), model.decision_function(X), rtol=1e-5, atol=1e-7
        )
    else:
        np.testing.assert_allclose(loaded.transform(X), model.transform(X), rtol=1e-5, atol=1e-7)


def test_the_file_stores_each_parameter_as_its_table_row_says(tmp_path):
    # "json" values among the description's params, the others beside them by name: the
    # layout of files saved before the table said how (format version 2)
    from safetensors import safe_open

    X, y = np.random.default_rng(0).random((40, 16)), np.arange(40) % 2
    model = CapsNetClassifier(max_epochs=1, input_shape=(1, 4, 4), random_state=3)
    model.set_params(class_weight={0: 2.0, 1: 0.5}, optimizer=torch.optim.SGD).fit(X, y)
    model.save(tmp_path / "model.safetensors")
    with safe_open(str(tmp_path / "model.safetensors"), framework="pt") as handle:
        description = json.loads(handle.metadata()["sklearn-capsnet"])
    assert description["optimizer"] == "SGD"
    assert description["random_state"] == 3
    assert description["class_weight"] == {
        "labels": {"values": [0, 1], "dtype": np.dtype(int).str},
        "weights": [2.0, 0.5],
    }
    stored = set(description["params"])
    for p in params_of("CapsNetClassifier"):
        assert (p.name in stored) == (p.saved == "json"), p.name


def test_a_parameter_stored_apart_may_not_take_a_key_of_the_description():
    from sklearn_capsnet.estimator.params import Param

    with pytest.raises(ValueError, match="fitted: a key of the model file's description"):
        Param("fitted", None, [None], "training", "None", "", saved="int or null")
    with pytest.raises(ValueError, match="is not one of"):
        Param("seed", None, [None], "training", "None", "", saved="pickle")
    Param("fitted", None, [None], "training", "None", "")  # among "params": no clash


# how a fitted skorch net shows each parameter that reaches it (the table's reaches_net)
ON_THE_NET = {
    "threshold": lambda net: net.threshold,
    "mixed_precision": lambda net: "bf16" if net.precision == torch.bfloat16 else "no",
}


def test_set_params_reaches_the_fitted_net_for_the_parameters_the_table_says():
    assert set(ON_THE_NET) == {p.name for p in PARAMS if p.reaches_net is not None}
    X, y = np.random.default_rng(0).random((40, 16)), np.arange(40) % 2
    model = CapsNetClassifier(max_epochs=1, input_shape=(1, 4, 4), mixed_precision="no")
    model.fit(X, y)
    for name, shown in ON_THE_NET.items():
        value = {"threshold": 0.7, "mixed_precision": "bf16"}[name]
        model.set_params(**{name: value})
        assert shown(model.net_) == value, name


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_set_params_refuses_an_unknown_name_at_once_and_names_the_closest(cls):
    estimator = cls()
    with pytest.raises(
        ValueError, match=rf"{cls.__name__} has no parameter 'lr_decy'.*'lr_decay'"
    ):
        estimator.set_params(lr_decy=0.9)
    assert "lr_decy" not in estimator.get_params()
    estimator.set_params(optimizer__weight_decay=0.1, callbacks__print_log__sink=print)
    assert estimator.get_params()["optimizer__weight_decay"] == 0.1


def test_an_unknown_constructor_keyword_is_refused_at_fit_with_the_closest_name():
    X, y = np.random.default_rng(0).random((20, 4)), np.arange(20) % 2
    clf = CapsNetClassifier(max_epoch=2)
    with pytest.raises(
        ValueError, match=r"CapsNetClassifier has no parameter 'max_epoch'.*'max_epochs'"
    ):
        clf.fit(X, y)
    assert not hasattr(clf, "net_")


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_argument_errors_name_the_public_class_not_its_base(cls):
    X, y = np.ones((4, 2)), np.array([0, 1, 0, 1])
    with pytest.raises(TypeError, match=rf"^{cls.__name__}\.fit\(\) got an unexpected keyword"):
        cls().fit(X, y, weights=np.ones(4))
    with pytest.raises(TypeError, match=rf"^{cls.__name__}\.partial_fit\(\) missing"):
        cls().partial_fit(X)


def test_the_engine_has_the_table_defaults_of_the_network_parameters():
    from sklearn_capsnet.nn import CapsNet

    signature = inspect.signature(CapsNet.__init__).parameters
    for p in PARAMS:
        if p.acts == "network":
            assert signature[p.name].default == p.default, p.name


def test_a_fitted_model_answers_as_fitted_after_set_params_of_its_network(digits):
    # capsule_dim, routing and front_end act at the next fit; until then every answer and
    # display reads the network fit built, not the parameters set since
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    from sklearn_capsnet.plotting import CouplingDisplay, PerturbationDisplay

    X_train, X_test, y_train, _ = digits
    images = X_train.reshape(-1, 8, 8)[:64]
    tiny_net = dict(conv_channels=8, primary_types=2, primary_dim=4, decoder_hidden=(16,))
    clf = CapsNetClassifier(
        **tiny_net, capsule_dim=6, routing="self_attention", max_epochs=1, random_state=0
    )
    clf.fit(images, y_train[:64])
    caps = CapsuleTransformer(**tiny_net, capsule_dim=6, max_epochs=1, random_state=0)
    caps.fit(images, y_train[:64])
    clf.set_params(capsule_dim=8, routing="dynamic", front_end="resize")
    caps.set_params(capsule_dim=8, routing="self_attention", front_end="resize")
    capsules = clf.capsules(images[:3])
    assert capsules.shape == (3, 10, 6)
    assert clf.decode(capsules).shape == (3, 8, 8)
    assert caps.transform(images[:3]).shape == (3, 60)
    assert len(caps.get_feature_names_out()) == 60
    assert PerturbationDisplay.from_estimator(clf, images[0]).images.shape[0] == 6
    coupling = CouplingDisplay.from_estimator(clf, images[0])  # self-attention: own mean
    assert coupling.center == pytest.approx(np.nanmean(coupling.maps))
    assert coupling.center != pytest.approx(0.1)  # dynamic routing's level
