"""Literal float64 per-example versions of the paper's equations, for the tests.

Written as loops over examples, children and parents, so they share nothing
with the vectorised engine but the equations.
"""

import torch


def squash_literal(s):
    """Eq. 1 as written: |s|² / (1 + |s|²) · s / |s| (s != 0)."""
    norm_sq = (s * s).sum()
    return norm_sq / (1.0 + norm_sq) * s / torch.sqrt(norm_sq)


def routing_one_example(u_hat, iterations, with_coupling=False):
    """Procedure 1 for one example: u_hat is [I, J, D]; returns [J, D].

    With ``with_coupling``, also the last iteration's c as an [I, J] tensor.
    """
    n_children, n_parents, _ = u_hat.shape
    b = [[torch.zeros((), dtype=u_hat.dtype) for _ in range(n_parents)] for _ in range(n_children)]
    for r in range(iterations):
        c = []
        for i in range(n_children):
            exps = [torch.exp(b[i][j]) for j in range(n_parents)]
            total = sum(exps)
            c.append([e / total for e in exps])
        v = []
        for j in range(n_parents):
            s_j = sum(c[i][j] * u_hat[i, j] for i in range(n_children))
            v.append(squash_literal(s_j))
        if r + 1 < iterations:
            for i in range(n_children):
                for j in range(n_parents):
                    b[i][j] = b[i][j] + torch.dot(u_hat[i, j], v[j])
    if with_coupling:
        return torch.stack(v), torch.stack([torch.stack(row) for row in c])
    return torch.stack(v)


def predictions_loop(weight, example):
    """û_j|i = W_ij u_i for one example: weight is [I, J, D, P], example [I, P]."""
    n_children, n_parents = weight.shape[:2]
    return torch.stack(
        [
            torch.stack([weight[i, j] @ example[i] for j in range(n_parents)])
            for i in range(n_children)
        ]
    )


def class_capsules_loop(weight, u, iterations):
    """û_j|i = W_ij u_i and routing, one example at a time; u is [B, I, P]."""
    return torch.stack(
        [routing_one_example(predictions_loop(weight, example), iterations) for example in u]
    )


def margin_loss_literal(lengths, labels, weights=None):
    """Eq. 4 summed over classes; the mean over examples of weight × loss (weights 1)."""
    weights = [1.0] * len(labels) if weights is None else weights
    total = 0.0
    for row, label, weight in zip(lengths, labels, weights, strict=True):
        for k, length in enumerate(row):
            if k == label:
                total = total + weight * torch.clamp(0.9 - length, min=0) ** 2
            else:
                total = total + weight * 0.5 * torch.clamp(length - 0.1, min=0) ** 2
    return total / len(labels)


def squash_exp_literal(s):
    """Efficient-CapsNet eq. 6 as written: (1 - 1/e^|s|) · s / |s| (s != 0)."""
    norm = torch.sqrt((s * s).sum())
    return (1.0 - 1.0 / torch.exp(norm)) * s / norm


def self_attention_one_example(u_hat, log_prior, with_coupling=False):
    """Efficient-CapsNet routing for one example, with the full I×I attention matrices.

    u_hat is [I, J, D], log_prior [I, J]: A_j = Û_j Û_jᵀ / sqrt(D);
    c_nj = softmax over j of Σ_k A_j[n, k]; s_j = Σ_n (c_nj + b_nj) û_j|n. With
    ``with_coupling``, also c + b as an [I, J] tensor.
    """
    n_children, n_parents, dim = u_hat.shape
    totals = []
    for j in range(n_parents):
        u_j = u_hat[:, j, :]  # Û_j: [I, D]
        attention = (u_j @ u_j.T) / dim**0.5  # A_j: [I, I]
        totals.append([sum(attention[n, k] for k in range(n_children)) for n in range(n_children)])
    v = []
    coupling = [[None] * n_parents for _ in range(n_children)]
    for n in range(n_children):
        exps = [torch.exp(totals[j][n]) for j in range(n_parents)]
        for j in range(n_parents):
            coupling[n][j] = exps[j] / sum(exps)
    for j in range(n_parents):
        s_j = sum((coupling[n][j] + log_prior[n, j]) * u_hat[n, j] for n in range(n_children))
        v.append(squash_exp_literal(s_j))
    if with_coupling:
        weights = [
            [coupling[n][j] + log_prior[n, j] for j in range(n_parents)] for n in range(n_children)
        ]
        return torch.stack(v), torch.stack([torch.stack(row) for row in weights])
    return torch.stack(v)


def pixel_or_fill(image, r, c, fill):
    """Pixel (r, c) of one grey image (lists of rows), in float64; off the image, ``fill``:
    a number, or ``"edge"`` for the image's pixel nearest to (r, c), its row and its
    column each moved back to the nearest one the image has."""
    height, width = len(image), len(image[0])
    if 0 <= r < height and 0 <= c < width:
        return float(image[r][c])
    if isinstance(fill, str) and fill == "edge":
        return float(image[min(max(r, 0), height - 1)][min(max(c, 0), width - 1)])
    return float(fill)


def place_literal(image, top, left, canvas, fill=0.0):
    """One grey image on a ``canvas`` (rows, columns) with its top-left pixel at (top,
    left), pixel by pixel in float64: each canvas pixel is the image's pixel under it,
    or ``fill`` (a number, or ``"edge"``) where there is none."""
    rows, cols = canvas
    return [
        [pixel_or_fill(image, row - top, col - left, fill) for col in range(cols)]
        for row in range(rows)
    ]


def affine_literal(
    image, rotation_degrees, shear, scale_rows, scale_cols, shift, canvas, fill=0.0
):
    """One grey image under an affine map, pixel by pixel, in float64 plain Python.

    The map, in (row, column) offsets from the image's centre: scale each axis, then
    move each column by ``shear`` times the row offset, then turn counter-clockwise as
    displayed (a point right of the centre goes up for +90°); the centre lands on the
    canvas's centre plus ``shift`` (rows, columns); ``canvas`` is a side or (rows,
    columns). Each output pixel inverts the map and reads the source bilinearly, each
    of the four pixels it reads that lies outside the source being ``fill``: a number,
    or ``"edge"`` for the source's pixel nearest to it.
    """
    import math

    height, width = len(image), len(image[0])
    rows, cols = (canvas, canvas) if isinstance(canvas, int) else canvas
    centre_r, centre_c = (height - 1) / 2, (width - 1) / 2
    out_r, out_c = (rows - 1) / 2 + shift[0], (cols - 1) / 2 + shift[1]
    angle = math.radians(rotation_degrees)
    cos, sin = math.cos(angle), math.sin(angle)

    def pixel(r, c):
        return pixel_or_fill(image, r, c, fill)

    out = [[0.0] * cols for _ in range(rows)]
    for row in range(rows):
        for col in range(cols):
            # undo the turn: a point (y, x) turned by +angle came from this one
            y, x = row - out_r, col - out_c
            y, x = cos * y + sin * x, -sin * y + cos * x
            x = x - shear * y  # undo the shear
            y, x = y / scale_rows, x / scale_cols  # undo the scaling
            r, c = y + centre_r, x + centre_c
            r0, c0 = math.floor(r), math.floor(c)
            fr, fc = r - r0, c - c0
            out[row][col] = (
                (1 - fr) * (1 - fc) * pixel(r0, c0)
                + (1 - fr) * fc * pixel(r0, c0 + 1)
                + fr * (1 - fc) * pixel(r0 + 1, c0)
                + fr * fc * pixel(r0 + 1, c0 + 1)
            )
    return out


def layer_norm_literal(s, gain, bias, eps=1e-5):
    """LayerNorm of one vector as written: (s - mean) / sqrt(biased variance + eps) · g + b."""
    dim = len(s)
    mean = sum(s[k] for k in range(dim)) / dim
    variance = sum((s[k] - mean) ** 2 for k in range(dim)) / dim
    return torch.stack(
        [(s[k] - mean) / torch.sqrt(variance + eps) * gain[k] + bias[k] for k in range(dim)]
    )


def inverted_attention_one_example(u_hat, iterations, gain, bias, w, b):
    """Tsai et al. (2020) routing for one example, then the length-coded class capsules.

    u_hat is [I, J, D] (votes v_ij); poses start at 0; each pass
    a_ij = p_j · v_ij / sqrt(D), r_ij = softmax over j of a_ij,
    p_j = LayerNorm(Σ_i r_ij v_ij). Scores z_j = 10 tanh((w · p_j + b) / 10). Returns the
    capsules sigmoid(z_j) · p_j / |p_j| [J, D], the last r [I, J] and z [J].
    """
    n_children, n_parents, dim = u_hat.shape
    poses = [torch.zeros(dim, dtype=u_hat.dtype) for _ in range(n_parents)]
    for _ in range(iterations):
        r = []
        for i in range(n_children):
            agreements = [torch.dot(poses[j], u_hat[i, j]) / dim**0.5 for j in range(n_parents)]
            exps = [torch.exp(a) for a in agreements]
            r.append([e / sum(exps) for e in exps])
        poses = [
            layer_norm_literal(sum(r[i][j] * u_hat[i, j] for i in range(n_children)), gain, bias)
            for j in range(n_parents)
        ]
    scores = [10.0 * torch.tanh((torch.dot(w, poses[j]) + b) / 10.0) for j in range(n_parents)]
    capsules = [
        1.0 / (1.0 + torch.exp(-scores[j])) * poses[j] / torch.sqrt((poses[j] ** 2).sum())
        for j in range(n_parents)
    ]
    coupling = torch.stack([torch.stack(row) for row in r])
    return torch.stack(capsules), coupling, torch.stack(scores)


def float64_copy(estimator):
    """A float64 copy of a fitted estimator's network, for the loops above."""
    module = estimator.net_.capsnet()
    double = type(module)(
        module.input_shape,
        len(estimator.classes_),
        routing=estimator.routing,
        routing_iterations=estimator.routing_iterations,
        conv_channels=estimator.conv_channels,
        primary_types=estimator.primary_types,
        primary_dim=estimator.primary_dim,
        capsule_dim=estimator.capsule_dim,
        decoder_hidden=estimator.decoder_hidden,
    ).double()
    double.load_state_dict({k: v.double() for k, v in module.state_dict().items()})
    return double


def votes_loop(network, x):
    """Each example's votes û_j|i = W_ij u_i, [I, J, D], from network input x [B, C, H, W]."""
    with torch.no_grad():
        u = network.primary(network.conv(x))
        return [predictions_loop(network.classes.prediction_weight, example) for example in u]


def inverted_attention_with(routing, u_hat):
    """:func:`inverted_attention_one_example` with the parameters of an
    ``InvertedAttentionRouting`` module: its passes, layer norm and score map."""
    return inverted_attention_one_example(
        u_hat,
        routing.iterations,
        routing.norm.weight,
        routing.norm.bias,
        routing.score.weight[0],
        routing.score.bias[0],
    )
