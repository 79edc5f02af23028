"""Inverted dot-product attention routing (Tsai et al. 2020) against float64 loops.

The loops in ``reference.py`` follow the paper's equations one example, child and
parent at a time; the engine's batched routing, its length-coded class capsules,
the cross-entropy it trains with and the estimator's answers are checked against
them.
"""

import numpy as np
import pytest
import torch
from reference import float64_copy, inverted_attention_with, votes_loop

from sklearn_capsnet import CapsNetClassifier, CapsuleTransformer
from sklearn_capsnet._testing import tiny
from sklearn_capsnet.nn import (
    CapsuleLoss,
    InvertedAttentionRouting,
    capsule_log_odds,
    cross_entropy_loss,
    lengths_to_proba,
    margin_loss,
)

ROUTING = "inverted_attention"


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(0)


def _routing(iterations, dim, gen):
    """A float64 routing with every parameter drawn: gains, biases and the score map."""
    routing = InvertedAttentionRouting(iterations, dim=dim).double()
    with torch.no_grad():
        for parameter in routing.parameters():
            parameter.normal_(0.3, 0.7, generator=gen)
    return routing


@pytest.mark.parametrize("iterations", [1, 2, 3])
@pytest.mark.parametrize("shape", [(2, 7, 3, 5), (1, 1, 2, 3), (3, 4, 1, 6), (2, 9, 5, 2)])
def test_inverted_attention_matches_the_float64_loop_forward_and_backward(gen, shape, iterations):
    routing = _routing(iterations, shape[-1], gen)
    u_hat = 2 * torch.randn(shape, generator=gen, dtype=torch.float64)
    u_hat.requires_grad_()
    capsules, coupling = routing.route(u_hat)
    expected = [inverted_attention_with(routing, example) for example in u_hat]
    expected_capsules = torch.stack([capsules_k for capsules_k, _, _ in expected])
    expected_coupling = torch.stack([coupling_k for _, coupling_k, _ in expected])
    torch.testing.assert_close(capsules, expected_capsules)
    torch.testing.assert_close(coupling, expected_coupling)

    up_capsules = torch.randn(capsules.shape, generator=gen, dtype=torch.float64)
    up_coupling = torch.randn(coupling.shape, generator=gen, dtype=torch.float64)
    wrt = (u_hat, *routing.parameters())
    grads = torch.autograd.grad(
        (capsules * up_capsules).sum() + (coupling * up_coupling).sum(), wrt
    )
    expected_grads = torch.autograd.grad(
        (expected_capsules * up_capsules).sum() + (expected_coupling * up_coupling).sum(), wrt
    )
    for grad, expected_grad in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(grad, expected_grad)


def test_inverted_attention_lengths_encode_the_scores_and_their_softmax(gen):
    routing = _routing(3, 5, gen)
    u_hat = torch.randn(4, 7, 3, 5, generator=gen, dtype=torch.float64)
    with torch.no_grad():
        lengths = routing(u_hat).norm(dim=-1)
    scores = torch.stack([inverted_attention_with(routing, e)[2] for e in u_hat]).detach()
    torch.testing.assert_close(capsule_log_odds(lengths), scores)
    torch.testing.assert_close(lengths_to_proba(lengths), torch.softmax(scores, dim=1))


def test_inverted_attention_routes_each_example_on_its_own(gen):
    routing = _routing(3, 4, gen)
    u_hat = torch.randn(5, 6, 3, 4, generator=gen, dtype=torch.float64)
    with torch.no_grad():
        alone = torch.cat([routing(u_hat[k : k + 1]) for k in range(5)])
        torch.testing.assert_close(routing(u_hat), alone)


def test_inverted_attention_rejects_zero_iterations():
    with pytest.raises(ValueError, match="at least 1 iteration"):
        InvertedAttentionRouting(0)


def test_inverted_attention_under_bf16_autocast_keeps_poses_and_scores_in_float32(gen):
    routing = InvertedAttentionRouting(3, dim=16)
    u_hat = torch.randn(2, 40, 10, 16, generator=gen)
    exact = routing(u_hat)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        capsules = routing(u_hat.bfloat16())
    assert capsules.dtype == torch.float32
    relative = (capsules - exact).norm() / exact.norm()
    assert relative < 2e-2


def _cross_entropy_literal(scores, labels, weights):
    total = 0.0
    for row, label, weight in zip(scores, labels, weights, strict=True):
        total = total + weight * (-row[label] + torch.log(sum(torch.exp(z) for z in row)))
    return total / len(labels)


def _binary_cross_entropy_literal(scores, indicators):
    total = 0.0
    for row, targets in zip(scores, indicators, strict=True):
        for z, t in zip(row, targets, strict=True):
            p = 1.0 / (1.0 + torch.exp(-z))
            total = total - (t * torch.log(p) + (1 - t) * torch.log(1 - p))
    return total / len(scores)


def test_cross_entropy_loss_is_the_literal_cross_entropy_of_the_length_log_odds(gen):
    scores = 3 * torch.randn(6, 4, generator=gen, dtype=torch.float64)
    lengths = torch.sigmoid(scores)
    labels = torch.tensor([0, 3, 1, 1, 2, 0])
    weights = torch.rand(6, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(
        cross_entropy_loss(lengths, labels, weight=weights),
        _cross_entropy_literal(scores, labels, weights),
    )
    torch.testing.assert_close(
        cross_entropy_loss(lengths, labels), _cross_entropy_literal(scores, labels, [1.0] * 6)
    )
    indicators = (torch.rand(6, 4, generator=gen) > 0.5).long()
    torch.testing.assert_close(
        cross_entropy_loss(lengths, indicators),
        _binary_cross_entropy_literal(scores, indicators.double()),
    )


def test_capsule_loss_trains_the_objective_it_is_given(gen):
    capsules = torch.rand(5, 3, 4, generator=gen) / 2
    labels = torch.tensor([0, 2, 1, 1, 0])
    lengths = capsules.norm(dim=-1)
    torch.testing.assert_close(
        CapsuleLoss(objective="cross_entropy")(capsules, labels),
        cross_entropy_loss(lengths, labels),
    )
    torch.testing.assert_close(CapsuleLoss()(capsules, labels), margin_loss(lengths, labels))
    with pytest.raises(ValueError, match="'margin', 'cross_entropy'"):
        CapsuleLoss(objective="hinge")


# --- the estimators -------------------------------------------------------------------


def _scores_by_the_loop(clf, X):
    """The fitted network's class scores, from its primary capsules by the float64 loop."""
    double = float64_copy(clf)
    x = torch.as_tensor(np.asarray(X, dtype=np.float64) / 16.0).view(len(X), *double.input_shape)
    routing = double.classes.routing
    with torch.no_grad():
        scores = [inverted_attention_with(routing, u_hat)[2] for u_hat in votes_loop(double, x)]
    return torch.stack(scores).numpy()


@pytest.fixture(scope="module")
def inverted_model(digits):
    X_train, _, y_train, _ = digits
    # 8-D class capsules: the layer norm of 4-D poses (the tiny network's) starts slowly
    params = tiny(
        max_epochs=2, input_shape=(1, 8, 8), routing=ROUTING, mixed_precision="no", capsule_dim=8
    )
    clf = CapsNetClassifier(**params, random_state=0)
    return clf.fit(X_train[:300], y_train[:300])


def test_inverted_attention_trains_with_cross_entropy_and_the_others_with_the_margin(
    inverted_model,
):
    assert inverted_model.net_.criterion_.objective == "cross_entropy"
    assert type(inverted_model.net_.module_.classes.routing) is InvertedAttentionRouting
    X, y = np.random.default_rng(0).random((20, 64)), np.arange(20) % 2
    for routing in ("dynamic", "self_attention"):
        clf = CapsNetClassifier(**tiny(max_epochs=1, routing=routing, input_shape=(64, 1, 1)))
        assert clf.fit(X, y).net_.criterion_.objective == "margin"


def test_inverted_attention_predict_proba_is_the_softmax_of_the_scores(inverted_model, digits):
    _, X_test, _, _ = digits
    scores = _scores_by_the_loop(inverted_model, X_test[:6])
    expected = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(inverted_model.predict_proba(X_test[:6]), expected, atol=1e-5)
    np.testing.assert_allclose(inverted_model.decision_function(X_test[:6]), scores, atol=1e-4)
    np.testing.assert_array_equal(
        inverted_model.predict(X_test[:6]), inverted_model.classes_[scores.argmax(axis=1)]
    )


def test_inverted_attention_learns_the_digits(inverted_model, digits):
    _, X_test, _, y_test = digits
    assert inverted_model.score(X_test, y_test) > 0.4  # 2 epochs of 300 digits (0.52); chance 0.1


def test_inverted_attention_multilabel_lengths_are_the_sigmoids_of_the_scores(digits):
    X_train, X_test, y_train, _ = digits
    Y = np.column_stack([y_train[:200] % 2, y_train[:200] > 4]).astype(int)
    params = tiny(max_epochs=2, input_shape=(1, 8, 8), routing=ROUTING, mixed_precision="no")
    clf = CapsNetClassifier(**params, random_state=0).fit(X_train[:200], Y)
    scores = _scores_by_the_loop(clf, X_test[:6])
    np.testing.assert_allclose(clf.predict_proba(X_test[:6]), 1 / (1 + np.exp(-scores)), atol=1e-5)
    np.testing.assert_array_equal(clf.predict(X_test[:6]), (scores > 0).astype(int))


def test_inverted_attention_serves_every_capsule_method(inverted_model, digits, tmp_path):
    _, X_test, _, _ = digits
    X = X_test[:5]
    capsules = inverted_model.capsules(X)
    assert capsules.shape == (5, 10, inverted_model.capsule_dim)
    assert np.all(np.linalg.norm(capsules, axis=-1) < 1)
    assert inverted_model.reconstruct(X).shape == X.shape
    assert inverted_model.decode(capsules).shape == X.shape
    assert np.isfinite(inverted_model.reconstruction_error(X)).all()
    coupling = inverted_model.coupling_coefficients(X)
    assert coupling.shape == (5, inverted_model.net_.module_.n_primary, 10)
    np.testing.assert_allclose(coupling.sum(axis=2), 1.0, atol=1e-5)
    inverted_model.save(tmp_path / "model")
    loaded = CapsNetClassifier.load(tmp_path / "model")
    assert loaded.routing == ROUTING
    np.testing.assert_array_equal(loaded.predict_proba(X), inverted_model.predict_proba(X))


def test_capsule_transformer_with_inverted_attention_gives_capsule_features(digits):
    X_train, _, y_train, _ = digits
    transformer = CapsuleTransformer(**tiny(max_epochs=1, input_shape=(1, 8, 8), routing=ROUTING))
    features = transformer.fit(X_train[:100], y_train[:100]).transform(X_train[:7])
    assert features.shape == (7, 10 * transformer.capsule_dim)
    assert transformer.net_.criterion_.objective == "cross_entropy"


def test_inverted_attention_scores_stay_readable_from_float32_lengths(gen):
    # scores far from 0 (a bias of 20): sigmoid rounds to 1 in float32 from about 16, where
    # the log-odds (the loss, decision_function) would be lost; the bound keeps them inside
    routing = _routing(3, 5, gen).float()
    with torch.no_grad():
        routing.score.bias.fill_(20.0)
    u_hat = torch.randn(4, 7, 3, 5, generator=gen)
    lengths = routing(u_hat).norm(dim=-1)
    assert lengths.dtype == torch.float32 and (lengths < 1).all()
    double = routing.double()
    scores = torch.stack([inverted_attention_with(double, e)[2] for e in u_hat.double()])
    torch.testing.assert_close(capsule_log_odds(lengths), scores.detach(), atol=0.05, rtol=0)
    loss = cross_entropy_loss(routing.float()(u_hat).norm(dim=-1), torch.tensor([0, 1, 2, 0]))
    (grad,) = torch.autograd.grad(loss, routing.score.weight)
    assert torch.isfinite(loss) and grad.abs().sum() > 0
