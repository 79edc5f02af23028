"""The engine against literal float64 versions of the paper's equations."""

import pytest
import torch
from reference import (
    class_capsules_loop,
    margin_loss_literal,
    predictions_loop,
    routing_one_example,
    self_attention_one_example,
    squash_exp_literal,
    squash_literal,
)

from sklearn_capsnet.nn import (
    CapsNet,
    CapsuleLoss,
    ClassCapsules,
    DynamicRouting,
    PrimaryCapsules,
    SelfAttentionRouting,
    geometry,
    lengths_to_proba,
    margin_loss,
    mask_capsules,
    reconstruction_loss,
    squash,
    squash_exp,
)


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(0)


def test_squash_matches_paper_formula(gen):
    s = torch.randn(5, 7, 16, generator=gen, dtype=torch.float64) * 3
    expected = torch.stack([torch.stack([squash_literal(v) for v in row]) for row in s])
    torch.testing.assert_close(squash(s), expected)


def test_squash_keeps_direction_and_bounds_length(gen):
    s = torch.randn(100, 8, generator=gen, dtype=torch.float64) * 10
    v = squash(s)
    lengths = v.norm(dim=-1)
    assert torch.all(lengths < 1)
    cosine = (v * s).sum(-1) / (lengths * s.norm(dim=-1))
    torch.testing.assert_close(cosine, torch.ones(100, dtype=torch.float64))


def test_squash_is_finite_with_finite_gradient_at_zero():
    s = torch.zeros(3, 8, requires_grad=True)
    v = squash(s)
    v.sum().backward()
    assert torch.equal(v, torch.zeros(3, 8))
    assert torch.isfinite(s.grad).all()


def test_squash_on_huge_values_stays_finite():
    v = squash(torch.full((2, 8), 1e6))
    assert torch.isfinite(v).all()
    torch.testing.assert_close(v.norm(dim=-1), torch.ones(2))


@pytest.mark.parametrize("iterations", [1, 2, 3, 5])
def test_dynamic_routing_matches_per_example_float64_loop(gen, iterations):
    u_hat = torch.randn(3, 6, 4, 5, generator=gen, dtype=torch.float64, requires_grad=True)
    v = DynamicRouting(iterations)(u_hat)
    expected = torch.stack([routing_one_example(example, iterations) for example in u_hat])
    torch.testing.assert_close(v, expected)

    upstream = torch.randn(v.shape, generator=gen, dtype=torch.float64)
    (grad,) = torch.autograd.grad((v * upstream).sum(), u_hat)
    (expected_grad,) = torch.autograd.grad((expected * upstream).sum(), u_hat)
    torch.testing.assert_close(grad, expected_grad)


@pytest.mark.parametrize("iterations", [1, 3])
def test_dynamic_routing_coupling_is_the_last_iterations_c_of_the_float64_loop(gen, iterations):
    u_hat = torch.randn(3, 6, 4, 5, generator=gen, dtype=torch.float64)
    v, coupling = DynamicRouting(iterations).route(u_hat)
    for example, v_k, c_k in zip(u_hat, v, coupling, strict=True):
        expected_v, expected_c = routing_one_example(example, iterations, with_coupling=True)
        torch.testing.assert_close(v_k, expected_v)
        torch.testing.assert_close(c_k, expected_c)
    torch.testing.assert_close(coupling.sum(dim=2), torch.ones(3, 6, dtype=torch.float64))


@pytest.mark.parametrize("iterations", [1, 2, 3])
@pytest.mark.parametrize("uses", ["capsules and coupling", "coupling only"])
def test_dynamic_routing_gradients_through_the_coupling_match_the_float64_loop(
    gen, iterations, uses
):
    u_hat = torch.randn(2, 6, 4, 5, generator=gen, dtype=torch.float64, requires_grad=True)
    v, coupling = DynamicRouting(iterations).route(u_hat)
    reference = [routing_one_example(x, iterations, with_coupling=True) for x in u_hat]
    expected_v = torch.stack([v_k for v_k, _ in reference])
    expected_c = torch.stack([c_k for _, c_k in reference])
    up_v = torch.randn(v.shape, generator=gen, dtype=torch.float64)
    up_c = torch.randn(coupling.shape, generator=gen, dtype=torch.float64)
    with_v = 1.0 if uses == "capsules and coupling" else 0.0

    def loss(v, c):
        return with_v * (v * up_v).sum() + (c * up_c).sum()

    (grad,) = torch.autograd.grad(loss(v, coupling), u_hat)
    (expected,) = torch.autograd.grad(loss(expected_v, expected_c), u_hat)
    torch.testing.assert_close(grad, expected)


def test_dynamic_routing_trains_through_its_written_out_backward_pass(gen):
    u_hat = torch.randn(2, 6, 4, 5, generator=gen, requires_grad=True)
    v, coupling = DynamicRouting(3).route(u_hat)
    assert type(v.grad_fn).__name__ == "_RoutingByAgreementBackward"
    with torch.no_grad():
        assert DynamicRouting(3)(u_hat).grad_fn is None


def _loop(u_hat, iterations):
    return torch.stack([routing_one_example(x, iterations) for x in u_hat])


def test_second_derivatives_through_dynamic_routing_are_those_of_the_float64_loop(gen):
    u_hat = torch.randn(2, 5, 3, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    scale = torch.randn(u_hat.shape, generator=gen, dtype=torch.float64, requires_grad=True)
    second = []
    for routing in (DynamicRouting(2), lambda x: _loop(x, 2)):
        (grad,) = torch.autograd.grad(routing(u_hat * scale).sum(), scale, create_graph=True)
        second.append(torch.autograd.grad(grad.square().sum(), u_hat)[0])
    torch.testing.assert_close(*second)
    jacobians = [
        torch.func.jacrev(f)(u_hat.detach()) for f in (DynamicRouting(2), lambda x: _loop(x, 2))
    ]
    torch.testing.assert_close(*jacobians)


def test_dynamic_routing_outputs_may_be_changed_in_place_before_backward(gen):
    u_hat = torch.randn(2, 6, 4, 5, generator=gen, dtype=torch.float64, requires_grad=True)
    v, coupling = DynamicRouting(3).route(u_hat)
    v.clamp_(max=0.5)
    coupling.mul_(2.0)
    (v.sum() + coupling.sum()).backward()
    expected = torch.autograd.grad(
        _loop(u_hat, 3).clamp(max=0.5).sum()
        + 2 * torch.stack([routing_one_example(x, 3, with_coupling=True)[1] for x in u_hat]).sum(),
        u_hat,
    )[0]
    torch.testing.assert_close(u_hat.grad, expected)


def test_compiled_dynamic_routing_trains_through_the_plain_loop_without_graph_breaks(gen):
    from torch._dynamo.utils import counters

    u_hat = torch.randn(2, 6, 4, 5, generator=gen, requires_grad=True)
    routing = DynamicRouting(3)
    counters.clear()
    torch.compile(lambda x: routing(x).sum(), backend="aot_eager")(u_hat).backward()
    assert not counters["graph_break"]
    (expected,) = torch.autograd.grad(routing(u_hat).sum(), u_hat)
    torch.testing.assert_close(u_hat.grad, expected)


def test_dynamic_routing_under_bf16_autocast_matches_float64_with_its_gradients(gen):
    # parent-major bf16 predictions, as ClassCapsules makes them under CPU autocast
    u_hat = torch.randn(3, 4, 40, 8, generator=gen, dtype=torch.float64) / 4
    u_hat = u_hat.to(torch.bfloat16).transpose(1, 2).requires_grad_()  # [B, I, J, D]
    exact = u_hat.detach().double().requires_grad_()
    up_v = torch.randn(3, 4, 8, generator=gen, dtype=torch.float64)
    up_c = torch.randn(3, 40, 4, generator=gen, dtype=torch.float64)
    with torch.autocast("cpu", torch.bfloat16):
        v, coupling = DynamicRouting(3).route(u_hat)
    loss = (v.double() * up_v).sum() + (coupling.double() * up_c).sum()
    (grad,) = torch.autograd.grad(loss, u_hat)
    reference = [routing_one_example(x, 3, with_coupling=True) for x in exact]
    expected_v = torch.stack([v_k for v_k, _ in reference])
    expected_c = torch.stack([c_k for _, c_k in reference])
    expected_loss = (expected_v * up_v).sum() + (expected_c * up_c).sum()
    (expected_grad,) = torch.autograd.grad(expected_loss, exact)
    assert grad.dtype == torch.bfloat16

    def error(value, reference):
        return ((value.double() - reference).norm() / reference.norm()).item()

    assert error(v, expected_v) < 1e-2 and error(coupling, expected_c) < 1e-2
    assert error(grad, expected_grad) < 2e-2


def test_self_attention_coupling_is_softmax_plus_log_prior_of_the_float64_loop(gen):
    routing = SelfAttentionRouting(n_children=7, n_parents=3).double()
    with torch.no_grad():
        routing.log_prior.normal_(0, 0.1, generator=gen)
    u_hat = torch.randn(2, 7, 3, 5, generator=gen, dtype=torch.float64)
    v, coupling = routing.route(u_hat)
    for example, v_k, c_k in zip(u_hat, v, coupling, strict=True):
        expected_v, expected_c = self_attention_one_example(
            example, routing.log_prior.detach(), with_coupling=True
        )
        torch.testing.assert_close(v_k, expected_v)
        torch.testing.assert_close(c_k, expected_c)


def test_capsnet_route_gives_the_coupling_of_its_primary_capsules_in_float64(gen):
    torch.manual_seed(0)
    net = CapsNet((1, 12, 12), 3, conv_channels=8, primary_types=2, decoder_hidden=(8,)).double()
    x = torch.rand(2, 1, 12, 12, generator=gen, dtype=torch.float64)
    capsules, coupling = net.route(x)
    torch.testing.assert_close(capsules, net(x))
    u = net.primary(net.conv(x))  # [B, I, P]
    weight = net.classes.prediction_weight.detach()
    for example, c_k in zip(u.detach(), coupling, strict=True):
        _, expected = routing_one_example(predictions_loop(weight, example), 3, with_coupling=True)
        torch.testing.assert_close(c_k, expected)


@pytest.mark.parametrize("shape", [(1, 28, 28), (2, 12, 9), (1, 8, 8), (3, 1, 1)])
def test_receptive_fields_are_the_pixels_that_change_each_primary_position(shape):
    torch.manual_seed(0)
    net = CapsNet(shape, 2, conv_channels=4, primary_types=2, decoder_hidden=(8,)).double()
    with torch.no_grad():
        net.conv[0].bias.fill_(100.0)  # every ReLU passes: a change reaches all it can reach
    channels, height, width = shape
    grid_h, grid_w = net.geometry.grid
    fields = net.receptive_fields()
    assert fields.shape == (grid_h, grid_w, height, width)
    x = torch.rand(1, *shape, dtype=torch.float64)
    before = net.primary(net.conv(x))
    pixels = [(row, width // 2) for row in range(height)] + [
        (height // 2, c) for c in range(width)
    ]
    for row, col in pixels:  # every row and every column: each field's first and last pixel
        changed_x = x.clone()
        changed_x[0, -1, row, col] += 1.0
        after = net.primary(net.conv(changed_x))
        # primary capsule i = (type * grid_h + h) * grid_w + w
        moved = (after - before).abs().sum(-1).view(2, grid_h, grid_w) > 0
        assert torch.equal(moved[0], fields[:, :, row, col])
        assert torch.equal(moved[1], fields[:, :, row, col])


def test_single_iteration_couples_each_child_uniformly_to_parents(gen):
    u_hat = torch.randn(2, 6, 4, 5, generator=gen, dtype=torch.float64)
    v = DynamicRouting(1)(u_hat)
    torch.testing.assert_close(v, squash(u_hat.sum(dim=1) / 4))


def test_routing_logits_are_per_example(gen):
    u_hat = torch.randn(4, 6, 3, 5, generator=gen, dtype=torch.float64)
    together = DynamicRouting(3)(u_hat)
    alone = torch.cat([DynamicRouting(3)(u_hat[k : k + 1]) for k in range(4)])
    torch.testing.assert_close(together, alone)


def test_exp_squash_matches_efficient_capsnet_formula_and_is_safe_at_zero(gen):
    s = torch.randn(4, 6, 16, generator=gen, dtype=torch.float64) * 2
    expected = torch.stack([torch.stack([squash_exp_literal(v) for v in row]) for row in s])
    torch.testing.assert_close(squash_exp(s), expected)
    zero = torch.zeros(2, 8, requires_grad=True)
    squash_exp(zero).sum().backward()
    assert torch.isfinite(zero.grad).all()
    assert torch.isfinite(squash_exp(torch.full((2, 8), 1e6))).all()


def test_self_attention_routing_matches_literal_float64_equations(gen):
    routing = SelfAttentionRouting(n_children=7, n_parents=3).double()
    with torch.no_grad():
        routing.log_prior.normal_(0, 0.1, generator=gen)
    u_hat = torch.randn(2, 7, 3, 5, generator=gen, dtype=torch.float64, requires_grad=True)
    v = routing(u_hat)
    expected = torch.stack(
        [self_attention_one_example(example, routing.log_prior) for example in u_hat]
    )
    torch.testing.assert_close(v, expected)

    upstream = torch.randn(v.shape, generator=gen, dtype=torch.float64)
    grads = torch.autograd.grad((v * upstream).sum(), (u_hat, routing.log_prior))
    expected_grads = torch.autograd.grad((expected * upstream).sum(), (u_hat, routing.log_prior))
    for grad, expected_grad in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(grad, expected_grad)


def test_self_attention_routing_is_per_example_and_ignores_iterations(gen):
    from sklearn_capsnet.nn import make_routing

    routing = make_routing("self_attention", 7, n_children=6, n_parents=4).double()
    u_hat = torch.randn(5, 6, 4, 3, generator=gen, dtype=torch.float64)
    alone = torch.cat([routing(u_hat[k : k + 1]) for k in range(5)])
    torch.testing.assert_close(routing(u_hat), alone)
    assert sum(p.numel() for p in routing.parameters()) == 6 * 4


def test_self_attention_starts_unsaturated_with_many_primary_capsules():
    torch.manual_seed(0)
    net = CapsNet((1, 28, 28), 10, routing="self_attention", conv_channels=32, primary_types=32)
    assert net.classes.weight.shape[0] == 1152
    lengths = net(torch.rand(8, 1, 28, 28)).norm(dim=-1)
    assert lengths.max() < 0.5  # 0.72 with the weights of dynamic routing's old 1/sqrt(P) init


def test_unknown_routing_names_the_choices():
    from sklearn_capsnet.nn import make_routing

    with pytest.raises(ValueError, match="dynamic.*inverted_attention.*self_attention"):
        make_routing("em", 3, n_children=4, n_parents=2)


def test_routing_rejects_zero_iterations():
    with pytest.raises(ValueError, match="at least 1 iteration"):
        DynamicRouting(0)


def test_class_capsules_match_per_pair_matmul_and_routing(gen):
    layer = ClassCapsules(5, 8, 3, 16, DynamicRouting(3)).double()
    u = torch.randn(2, 5, 8, generator=gen, dtype=torch.float64, requires_grad=True)
    v = layer(u)
    expected = class_capsules_loop(layer.scale * layer.weight, u, 3)
    torch.testing.assert_close(v, expected)

    (grad_w, grad_u) = torch.autograd.grad(v.square().sum(), (layer.weight, u))
    (exp_w, exp_u) = torch.autograd.grad(expected.square().sum(), (layer.weight, u))
    torch.testing.assert_close(grad_w, exp_w)
    torch.testing.assert_close(grad_u, exp_u)


@pytest.mark.parametrize("transforms, shared_by", [(3, 4), (1, 12)], ids=["per type", "all"])
def test_shared_prediction_matrices_give_each_child_its_runs_matrix(gen, transforms, shared_by):
    # 3 types × 4 positions, type-major as PrimaryCapsules gives them: child i = t * 4 + g
    layer = ClassCapsules(12, 4, 2, 5, DynamicRouting(3), transforms=transforms).double()
    assert layer.weight.shape == (transforms, 2, 5, 4)
    u = torch.randn(2, 12, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    per_child = torch.stack([layer.weight[i // shared_by] for i in range(12)]) * layer.scale
    expected = torch.stack([predictions_loop(per_child, example) for example in u])
    torch.testing.assert_close(layer.predictions(u), expected)
    torch.testing.assert_close(layer.prediction_weight, per_child)
    v = layer(u)
    reference = class_capsules_loop(per_child, u, 3)
    torch.testing.assert_close(v, reference)
    (grad_w,) = torch.autograd.grad(v.square().sum(), layer.weight)
    (exp_w,) = torch.autograd.grad(reference.square().sum(), layer.weight)
    torch.testing.assert_close(grad_w, exp_w)  # each shared matrix learns from all its children


def test_shared_matrices_must_divide_the_children():
    with pytest.raises(ValueError, match="transforms=5 must divide the 12 child capsules"):
        ClassCapsules(12, 4, 2, 5, DynamicRouting(3), transforms=5)


@pytest.mark.parametrize("share, matrices", [("none", 3200), ("positions", 32), ("all", 1)])
def test_a_network_sharing_prediction_matrices_has_that_many_fewer_parameters(share, matrices):
    paper = CapsNet((1, 36, 36), 10)  # 10×10×32 primary capsules, 16×8 matrices per class
    shared = CapsNet((1, 36, 36), 10, share_transforms=share)
    count = sum(p.numel() for p in shared.parameters())
    assert count == sum(p.numel() for p in paper.parameters()) - (3200 - matrices) * 10 * 16 * 8
    assert shared.n_primary == 3200


def test_primary_capsule_is_the_channels_of_one_type_at_one_position(gen):
    layer = PrimaryCapsules(4, capsule_types=3, capsule_dim=2, kernel_size=3, stride=2).double()
    x = torch.randn(2, 4, 9, 9, generator=gen, dtype=torch.float64)
    capsules = layer(x)  # [2, 3*4*4, 2]
    conv = layer.conv(x)  # [2, 6, 4, 4]
    assert capsules.shape == (2, 48, 2)
    for t in range(3):
        for h in range(4):
            for w in range(4):
                index = t * 16 + h * 4 + w
                expected = squash_literal(conv[1, 2 * t : 2 * t + 2, h, w])
                torch.testing.assert_close(capsules[1, index], expected)


def test_margin_loss_matches_paper_formula(gen):
    lengths = torch.rand(6, 4, generator=gen, dtype=torch.float64)
    labels = torch.tensor([0, 1, 2, 3, 1, 0])
    torch.testing.assert_close(margin_loss(lengths, labels), margin_loss_literal(lengths, labels))


def test_reconstruction_loss_is_mean_sum_of_squared_errors(gen):
    recon = torch.rand(3, 12, generator=gen, dtype=torch.float64)
    images = torch.rand(3, 1, 3, 4, generator=gen, dtype=torch.float64)
    expected = sum(((r - i.flatten()) ** 2).sum() for r, i in zip(recon, images, strict=True)) / 3
    torch.testing.assert_close(reconstruction_loss(recon, images), expected)


def test_capsule_loss_adds_weighted_reconstruction(gen):
    capsules = torch.randn(4, 3, 16, generator=gen, dtype=torch.float64) * 0.3
    labels = torch.tensor([0, 1, 2, 0])
    recon = torch.rand(4, 10, generator=gen, dtype=torch.float64)
    images = torch.rand(4, 10, generator=gen, dtype=torch.float64)
    total = CapsuleLoss(0.003)(capsules, labels, recon, images)
    lengths = [[sum(x * x for x in c) ** 0.5 for c in example] for example in capsules.tolist()]
    margin = margin_loss_literal(torch.tensor(lengths, dtype=torch.float64), labels)
    squared_errors = [
        sum((r - i) ** 2 for r, i in zip(rr, ii, strict=True))
        for rr, ii in zip(recon.tolist(), images.tolist(), strict=True)
    ]
    expected = margin + 0.003 * sum(squared_errors) / 4
    torch.testing.assert_close(total, expected)
    torch.testing.assert_close(CapsuleLoss(0.0)(capsules, labels, recon, images), margin)


def test_mask_keeps_only_the_given_or_longest_capsule():
    capsules = torch.tensor([[[1.0, 0.0], [0.0, 3.0], [0.5, 0.5]]])
    torch.testing.assert_close(
        mask_capsules(capsules, torch.tensor([0])), torch.tensor([[1.0, 0.0, 0.0, 0.0, 0.0, 0.0]])
    )
    torch.testing.assert_close(
        mask_capsules(capsules), torch.tensor([[0.0, 0.0, 0.0, 3.0, 0.0, 0.0]])
    )


def test_lengths_to_proba_rows_sum_to_one_and_keep_argmax(gen):
    lengths = torch.rand(50, 7, generator=gen)
    lengths[0] = 0.0
    proba = lengths_to_proba(lengths)
    torch.testing.assert_close(proba.sum(dim=1), torch.ones(50, dtype=torch.float64))
    assert torch.equal(proba[1:].argmax(dim=1), lengths[1:].argmax(dim=1))
    assert torch.isfinite(proba).all()


def test_lengths_to_proba_are_the_normalised_odds_of_the_lengths(gen):
    lengths = torch.rand(20, 5, generator=gen, dtype=torch.float64) * 0.98 + 0.01
    expected = [[p / (1 - p) for p in row] for row in lengths.tolist()]  # float64 loop
    expected = torch.tensor([[o / sum(row) for o in row] for row in expected], dtype=torch.float64)
    torch.testing.assert_close(lengths_to_proba(lengths), expected)


@pytest.mark.parametrize(
    "lengths",
    [
        [0.9999991, 0.9999999, 0.1],  # both near 1: a [1e-6, 1 - 1e-6] clip made them equal
        [1e-8, 1e-7, 1e-9],  # all near 0: a clip at 1e-6 made them uniform
        [0.3, 1.0, 0.0],  # exactly 1 and 0 stay finite
    ],
)
def test_predict_proba_argmax_is_the_longest_capsule_near_0_and_1(lengths):
    lengths = torch.tensor([lengths], dtype=torch.float32)
    proba = lengths_to_proba(lengths)
    assert torch.isfinite(proba).all()
    assert proba.argmax().item() == lengths.argmax().item()
    assert proba.max() > proba.min()  # no ties made up between distinct lengths


def test_paper_network_has_the_papers_parameters_but_a_10x10_first_kernel():
    # The paper's 8,215,568 with a 9×9 first kernel; 10×10 here so that its last
    # row and column are read (geometry()), 256 kernels of 19 more weights each.
    net = CapsNet((1, 28, 28), 10)
    assert sum(p.numel() for p in net.parameters()) == 8_215_568 + 256 * (10 * 10 - 9 * 9)
    assert net.geometry.grid == (6, 6)
    assert net.classes.weight.shape == (1152, 10, 16, 8)


@pytest.mark.parametrize(
    "shape",
    [(1, 28, 28), (1, 16, 16), (1, 8, 8), (3, 12, 12), (1, 1, 1), (20, 1, 1), (2, 3, 17)],
)
def test_network_adapts_to_any_input_shape(shape):
    net = CapsNet(shape, 4, conv_channels=16, primary_types=4, decoder_hidden=(32,))
    assert min(net.geometry.grid) >= 1
    x = torch.rand(3, *shape)
    capsules = net(x)
    assert capsules.shape == (3, 4, 16)
    assert net.reconstruct(capsules).shape == (3, shape[0] * shape[1] * shape[2])


def test_geometry_shrinks_kernels_to_keep_a_grid():
    assert geometry(28, 28).grid == (6, 6)
    assert geometry(16, 16).grid == (4, 4)
    assert geometry(1, 1) == ((1, 1), (1, 1), (1, 1))
    with pytest.raises(ValueError, match="at least 1x1"):
        geometry(0, 5)


def test_predictions_do_not_depend_on_batch_size():
    torch.manual_seed(0)
    net = CapsNet((1, 8, 8), 5, conv_channels=32, primary_types=8).double().eval()
    x = torch.rand(9, 1, 8, 8, dtype=torch.float64)
    full = net(x)
    pieces = torch.cat([net(x[:1]), net(x[1:4]), net(x[4:])])
    torch.testing.assert_close(full, pieces)


def test_example_weights_multiply_each_examples_margin_and_reconstruction_terms(gen):
    capsules = torch.randn(4, 3, 16, generator=gen, dtype=torch.float64) * 0.3
    labels = torch.tensor([0, 1, 2, 0])
    weights = [2.0, 0.0, 0.5, 1.0]
    recon = torch.rand(4, 10, generator=gen, dtype=torch.float64)
    images = torch.rand(4, 10, generator=gen, dtype=torch.float64)
    total = CapsuleLoss(0.003)(capsules, labels, recon, images, torch.tensor(weights))
    lengths = [[sum(x * x for x in c) ** 0.5 for c in example] for example in capsules.tolist()]
    margin = margin_loss_literal(torch.tensor(lengths, dtype=torch.float64), labels, weights)
    squared_errors = [
        w * sum((r - i) ** 2 for r, i in zip(rr, ii, strict=True))
        for w, rr, ii in zip(weights, recon.tolist(), images.tolist(), strict=True)
    ]
    torch.testing.assert_close(total, margin + 0.003 * sum(squared_errors) / 4)
