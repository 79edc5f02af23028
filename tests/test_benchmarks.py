"""The benchmark scripts run and print the JSON records the docs are built from.

Tiny sizes and fake Fashion-MNIST files: these check what the scripts compute and print,
never how fast anything is.
"""

import contextlib
import io
import json
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from idx_files import write_idx

from sklearn_capsnet._testing import TINY_NETWORK
from sklearn_capsnet.datasets import make_affine

BENCHMARKS = Path(__file__).parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))


def run_benchmark(script, *args) -> list[dict]:
    """Run ``benchmarks/script`` as ``python script args`` would; its JSON lines, parsed.

    In this process (each interpreter start costs seconds of imports), as ``__main__``
    with the script's folder first on ``sys.path``; torch's random numbers and oneDNN
    switch are as they were afterwards.
    """
    out, argv, path, mkldnn = io.StringIO(), sys.argv, sys.path[:], torch.backends.mkldnn.enabled
    sys.argv, sys.path[:] = [str(BENCHMARKS / script), *map(str, args)], [str(BENCHMARKS), *path]
    try:
        with torch.random.fork_rng(devices=[]), contextlib.redirect_stdout(out):
            runpy.run_path(str(BENCHMARKS / script), run_name="__main__")
    finally:
        sys.argv, sys.path[:], torch.backends.mkldnn.enabled = argv, path, mkldnn
    return [json.loads(line) for line in out.getvalue().splitlines() if line.startswith("{")]


@pytest.fixture(scope="module")
def fashion_home(tmp_path_factory):
    """Fashion-MNIST-shaped IDX files: 80 training and 40 test images of 10 classes."""
    home = tmp_path_factory.mktemp("fashion")
    rng = np.random.default_rng(0)
    for name, n in (("train", 80), ("t10k", 40)):
        write_idx(home / f"{name}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        write_idx(home / f"{name}-labels-idx1-ubyte", np.arange(n) % 10)
    return home


@pytest.mark.slow
def test_speed_benchmark_times_engine_estimator_and_scaling_against_the_baseline():
    records = run_benchmark(
        "bench_speed.py", "--device", "cpu", "--batch-sizes", 2, "--steps", 1,
        "--samples", 8, "--epochs", 1, "--scale-samples", 8, 16, "--scale-classes", 3,
        "--scale-params", json.dumps(TINY_NETWORK),
    )  # fmt: skip
    kinds = [r["benchmark"] for r in records]
    assert (
        kinds
        == ["engine"] * 3 + ["estimator"] * 2 + ["scaling_samples"] * 2 + ["scaling_classes"] * 3
    )
    engine = {r["implementation"]: r for r in records if r["benchmark"] == "engine"}
    assert set(engine) == {"sklearn_capsnet", "sklearn_capsnet_bf16", "eager_einsum_baseline"}
    assert engine["eager_einsum_baseline"]["train_vs_baseline"] == 1.0
    for record in records:
        assert record["device"] == "cpu" and record["versions"]["torch"]
    estimators = [r for r in records if r["benchmark"] == "estimator"]
    assert [r["precision"] for r in estimators] == ["None", "torch.bfloat16"]
    assert all(r["fit_img_per_s"] > 0 and r["predict_img_per_s"] > 0 for r in estimators)
    scaling = [r for r in records if r["benchmark"] == "scaling_samples"]
    assert [r["samples"] for r in scaling] == [8, 16]
    assert all(r["fit_s_per_1000"] > 0 for r in scaling)
    assert {r["n_classes"] for r in records if r["benchmark"] == "scaling_classes"} == {3}


@pytest.mark.slow
def test_speed_benchmark_compares_the_defaults_with_the_plain_loop():
    records = run_benchmark(
        "bench_speed.py", "--device", "cpu", "--skip", "engine", "estimator",
        "--defaults-vs-baseline", 40, "--repeats", 1,
    )  # fmt: skip
    (record,) = records
    assert record["benchmark"] == "defaults_vs_baseline" and record["samples"] == 40
    assert len(record["baseline_fit_s"]) == len(record["defaults_predict_s"]) == 1
    expected = record["baseline_fit_s"][0] / record["defaults_fit_s"][0]
    assert record["fit_speedup"] == pytest.approx(expected, rel=0.05, abs=0.02)


def test_parts_benchmark_times_both_hot_spots_each_against_torchs_own_way():
    records = run_benchmark("bench_parts.py", "--batch-size", 1, "--steps", 1, "--repeats", 2)
    timed = {(r["benchmark"], r["implementation"], r["pass"]): r for r in records}
    assert set(timed) == {
        (part, name, kind)
        for part, names in (
            ("primary_convolution", ("torch_conv2d", "patch_conv2d")),
            ("routing", ("einsum_autograd", "dynamic_routing")),
        )
        for name in names
        for kind in ("forward", "forward_backward")
    }
    for record in records:
        assert len(record["ms"]) == 2 and record["median_ms"] > 0
        assert record["precision"] == "bf16" and record["device"] == "cpu"


def test_einsum_routing_of_the_parts_benchmark_is_dynamic_routing():
    from bench_parts import einsum_routing

    from sklearn_capsnet.nn import DynamicRouting

    u_hat = torch.randn(2, 7, 3, 4, dtype=torch.float64)
    torch.testing.assert_close(einsum_routing(u_hat).double(), DynamicRouting(3)(u_hat))


def test_translation_benchmark_tests_both_models_on_the_same_shifted_images(fashion_home):
    records = run_benchmark(
        "bench_translation.py", "--data-home", fashion_home, "--epochs", 1,
        "--batch-size", 16, "--max-test-shift", 2,
        # not the tiny network: the CNN cannot be made as small (~206k fixed parameters)
        "--capsnet-params", json.dumps({"conv_channels": 16, "primary_types": 4}),
    )  # fmt: skip
    capsnet, cnn = records
    assert (capsnet["model"], cnn["model"]) == ("capsnet", "cnn")
    assert capsnet["train_size"] == cnn["train_size"] == 80
    assert list(capsnet["test_accuracy_by_max_shift"]) == ["0", "1", "2"]
    assert abs(cnn["n_parameters"] / capsnet["n_parameters"] - 1) < 0.02  # of similar size


def test_shifted_test_images_move_by_their_offsets_and_fill_with_zeros():
    from bench_translation import shift_images

    images = np.arange(2 * 3 * 4).reshape(2, 3, 4) + 1
    moved = shift_images(images, np.array([[1, -2], [0, 0]]))
    np.testing.assert_array_equal(moved[0, 1:, :2], images[0, :2, 2:])  # down 1, left 2
    assert moved[0, 0].sum() == 0 and moved[0, :, 2:].sum() == 0
    np.testing.assert_array_equal(moved[1], images[1])


def test_accuracy_benchmark_prints_one_line_per_epoch_and_a_summary(fashion_home):
    params = {**TINY_NETWORK, "max_epochs": 2}
    records = run_benchmark(
        "bench_accuracy.py", "--data-home", fashion_home, "--params", json.dumps(params)
    )
    *epochs, summary = records
    assert [r["epoch"] for r in epochs] == [1, 2]
    assert summary["summary"] and len(summary["curve"]) == 2
    assert 0 <= summary["final_test_accuracy"] <= 1 and summary["device"] == "cpu"
    assert summary["baselines"] == {}


def test_accuracy_benchmark_scores_sklearn_baselines_on_the_same_split(fashion_home):
    params = {**TINY_NETWORK, "max_epochs": 1}
    records = run_benchmark(
        "bench_accuracy.py", "--data-home", fashion_home, "--params", json.dumps(params),
        "--train-size", 60, "--baselines",
    )  # fmt: skip
    *lines, summary = records
    baselines = {r["baseline"]: r for r in lines if "baseline" in r}
    assert set(baselines) == {"SVC", "RandomForestClassifier", "MLPClassifier"}
    assert all(r["train_size"] == 60 and r["test_size"] == 40 for r in baselines.values())
    scores = {name: r["test_accuracy"] for name, r in baselines.items()}
    assert summary["baselines"] == scores
    capsnet = summary["final_test_accuracy"]
    assert summary["beats_every_baseline"] == all(capsnet > v for v in scores.values())


def test_digits_benchmark_reports_held_out_accuracy_per_seed():
    params = {**TINY_NETWORK, "max_epochs": 1}
    records = run_benchmark("bench_digits.py", "--params", json.dumps(params), "--seeds", 0, 1)
    assert [r["random_state"] for r in records] == [0, 1]
    assert all(0 <= r["accuracy"] <= 1 and r["epochs"] == 1 for r in records)


def test_bf16_gradient_benchmark_counts_non_finite_steps():
    records = run_benchmark(
        "bench_bf16_gradients.py", "--input-shape", 10, 1, 1, "--steps", 5, "--repeats", 2
    )
    assert [r["seed"] for r in records] == [0, 1]
    assert all(r["steps"] == 5 and 0 <= r["nonfinite_steps"] <= 5 for r in records)
    tiny = "sklearn_capsnet._testing.TINY_NETWORK"
    assert all(r["mkldnn"] and r["network"] == tiny for r in records)


@pytest.mark.slow
def test_init_benchmark_reports_starting_lengths_and_first_steps(fashion_home):
    records = run_benchmark(
        "bench_init.py", "--lengths", "--sizes", "8x8", "--train", 2, "--inits", "current", "old",
        "--data-home", fashion_home, "--learn", 2, "--learn-classes", 2,
    )  # fmt: skip
    lengths = [r for r in records if r["benchmark"] == "class_capsule_init_lengths"]
    assert [(r["routing"], r["classes"]) for r in lengths] == [
        (routing, n) for routing in ("dynamic", "self_attention") for n in (2, 10, 100)
    ]
    assert all(r["children"] == 128 for r in lengths)
    training = [r for r in records if r["benchmark"] == "class_capsule_init_training"]
    assert [r["init"] for r in training] == ["current", "old"]
    assert abs(training[1]["weight_std_at_start"] - 8**-0.5) < 0.01
    assert training[0]["weight_std_at_start"] < training[1]["weight_std_at_start"]
    learning = [r for r in records if r["benchmark"] == "default_network_learns"]
    assert [(r["input"], r["classes"]) for r in learning] == [("8x8", 10)] * 2 + [("28x28", 2)] * 2
    assert all(len(r["train_loss_per_epoch"]) == 2 and r["steps"] == 2 for r in learning)


def test_class_weight_benchmark_thins_the_rare_digits_and_fits_both_weightings():
    params = {**TINY_NETWORK, "max_epochs": 1}
    records = run_benchmark("bench_class_weight.py", "--params", json.dumps(params))
    assert [r["class_weight"] for r in records] == [None, "balanced"]
    counts = records[0]["train_counts"]
    assert max(counts[:5]) < 0.2 * min(counts[5:])  # digits 0-4 kept at about 10 %
    assert all(0 <= r["balanced_accuracy"] <= 1 and len(r["recall"]) == 10 for r in records)


def test_calibration_benchmark_scores_before_and_after_calibration():
    params = {**TINY_NETWORK, "max_epochs": 1}
    (record,) = run_benchmark("bench_calibration.py", "--params", json.dumps(params))
    for method in ("uncalibrated", "sigmoid", "isotonic"):
        scores = record[method]
        assert 0 <= scores["ece"] <= 1 and 0 <= scores["accuracy"] <= 1
        assert scores["brier"] >= 0 and scores["log_loss"] >= 0


def test_large_images_benchmark_trains_each_front_end_on_each_task(fashion_home):
    records = run_benchmark(
        "bench_large_images.py", "--data-home", fashion_home, "--params", json.dumps(TINY_NETWORK),
        "--train", 40, "--test", 20, "--epochs", 1, "--fashion-sizes", 28, 48,
        "--front-ends", "conv", "resize", "--photo-sizes", 16, 48, "--photo-epochs", 1,
        "--photo-count", 20, "--grating-size", 48, "--grating-train", 20,
        "--grating-test", 10, "--grating-epochs", 1, "--unusual-sizes", 48,
    )  # fmt: skip
    runs = [(r["task"], r["side"], r["front_end"]) for r in records]
    assert runs == [
        ("fashion", 28, "conv"), ("fashion", 48, "conv"), ("fashion", 48, "resize"),
        ("photos", 16, "conv"), ("photos", 48, "conv"), ("photos", 48, "resize"),
        ("gratings", 48, "conv"), ("gratings", 48, "resize"),
        ("unusual", "48", "conv"), ("unusual", "48", "resize"),
    ]  # fmt: skip
    for record in records:
        assert 0 <= record["accuracy"] <= 1 and record["fit_images_per_s"] > 0
    assert 'front end "resize" to 36x36x1' in records[2]["network"]
    unusual = records[-1]["kinds"]
    kinds = {"uniform_noise", "shuffled_pixels", "photo_crops", "unseen_classes_8_9"}
    assert set(unusual) == kinds
    assert all(0 <= kind["auc_reconstruction_error"] <= 1 for kind in unusual.values())


def test_unusual_inputs_in_colour_and_not_square(fashion_home):
    (record,) = run_benchmark(
        "bench_large_images.py", "--data-home", fashion_home, "--params", json.dumps(TINY_NETWORK),
        "--tasks", "unusual", "--train", 40, "--test", 20, "--epochs", 1,
        "--front-ends", "conv", "--unusual-sizes", "30x44", "--colour",
    )  # fmt: skip
    assert record["side"] == "30x44" and record["colour"] is True
    assert record["network"].startswith("30x44x3: ")
    assert record["kinds"]["photo_crops"]["auc_reconstruction_error"] >= 0


def test_colour_drawing_puts_the_grey_image_between_paper_and_ink():
    from bench_large_images import grey, in_colour, resized_crops

    images = np.array([[[0, 255], [128, 64]]], dtype=np.uint8)
    coloured = in_colour(images, seed=0)
    assert coloured.shape == (1, 2, 2, 3)
    paper, ink = coloured[0, 0, 0].astype(int), coloured[0, 0, 1].astype(int)
    assert (paper < 96).all() and (ink >= 96).all()
    np.testing.assert_allclose(coloured[0, 1, 0], paper + 128 / 255 * (ink - paper), atol=0.51)
    assert grey(np.full((1, 1, 1, 3), [100, 200, 50], dtype=np.uint8))[0, 0, 0] == 153
    crops = resized_crops(
        [np.zeros((100, 200, 3), np.uint8)], 3, (20, 30), np.random.default_rng(0)
    )
    assert crops.shape == (3, 20, 30, 3) and crops.dtype == np.uint8


def test_size_benchmark_centres_and_upsamples_fashion_and_scores_overlapping_pairs(
    fashion_home,
):
    records = run_benchmark(
        "bench_sizes.py", "--data-home", fashion_home, "--params", json.dumps(TINY_NETWORK),
        "--sizes", 28, 40, "--train", 30, "--test", 20, "--epochs", 1, "--pairs", 40,
        "--pair-epochs", 1,
    )  # fmt: skip
    runs = [(r["task"], r["side"], r.get("way"), r.get("model")) for r in records]
    assert runs == [
        ("fashion", 28, "as is", None), ("fashion", 40, "centred", None),
        ("fashion", 40, "upsampled", None), ("overlapping", 36, None, "CapsNet"),
        ("overlapping", 36, None, "MLPClassifier(256, 256)"),
    ]  # fmt: skip
    assert records[1]["network"].startswith(
        '40x40x1: front end "conv" to 36x36x1 (resampled only: no side to halve),'
    )
    assert all(0 <= r["accuracy"] <= 1 for r in records[:3])
    assert all(0 <= r["both_right"] <= 1 and 0 <= r["top_two_right"] <= 1 for r in records[3:])
    assert records[3]["network"].startswith("36x36x1: kernels 10x10 and 9x9, 8 channels, 10x10x4")


def test_centred_images_keep_their_pixels_in_the_middle_of_a_black_canvas():
    from bench_sizes import centre

    images = np.arange(2 * 28 * 28).reshape(2, 28, 28).astype(np.uint8)
    canvas = centre(images, 33)  # 5 more pixels: 2 before, 3 after
    assert canvas.shape == (2, 33, 33)
    assert np.array_equal(canvas[:, 2:30, 2:30], images)
    assert canvas.astype(int).sum() == images.astype(int).sum()  # black elsewhere


def test_overlapping_pairs_hold_two_different_digits_and_name_them():
    from bench_sizes import overlapping_pairs, top_two_right

    images = np.zeros((4, 28, 28), dtype=np.uint8)
    for k in range(4):
        images[k, k * 7 : k * 7 + 7, :] = 50 * (k + 1)  # a different band per digit
    labels = np.array([0, 1, 2, 3])
    X, Y = overlapping_pairs(20, np.arange(4), images, labels, np.random.default_rng(0))
    assert X.shape == (20, 36, 36) and (Y.sum(axis=1) == 2).all()
    for x, y in zip(X, Y, strict=True):
        assert set(np.unique(x)) - {0} <= {50 * (d + 1) for d in np.flatnonzero(y)}
    scores = np.array([[0.9, 0.8, 0.1], [0.9, 0.1, 0.8]])
    assert top_two_right(scores, np.array([[1, 1, 0], [1, 1, 0]])) == 0.5


def test_image_size_benchmark_counts_parameters_and_times_fit_in_one_run():
    records = run_benchmark(
        "bench_image_sizes.py", "--param-sizes", 40, "--front-ends", "conv", "scaled_kernels",
        "--fit-sizes", 16, 40, "--fit-images", 8, "--epochs", 2, "--repeats", 1,
        "--memory-size", 40, "--memory-images", 8, "--params", json.dumps(TINY_NETWORK),
    )  # fmt: skip
    kinds = [r["benchmark"] for r in records]
    assert kinds == ["parameters"] * 4 + ["fit_throughput"] * 2 + ["fit_memory"]
    counts = {(tuple(r["shape"]), r["front_end"]): r["parameters"] for r in records[:4]}
    assert counts[(1, 28, 28), "conv"] == counts[(1, 28, 28), "scaled_kernels"] == 8_220_432
    assert counts[(3, 40, 40), "conv"] < counts[(3, 40, 40), "scaled_kernels"]
    small, large = records[4:6]
    assert (small["side"], large["side"]) == (16, 40) and small["ratio_to_16"] == 1.0
    assert large["ratio_to_16"] == pytest.approx(
        large["median_images_per_s"] / small["median_images_per_s"], rel=0.01
    )
    memory = records[-1]
    assert memory["side"] == 40 and memory["peak_rss_mb"] >= memory["rss_before_fit_mb"] > 0


def test_memory_benchmark_reads_large_colour_images_from_a_memmap():
    records = run_benchmark(
        "bench_memory.py", "--shape", 48, 48, 3, "--samples", 24, 48, "--train", 16,
        "--batch-size", 8,
    )  # fmt: skip
    assert [r["samples"] for r in records] == [24, 48]
    assert records[0]["shape"] == [48, 48, 3] and "front end" in records[0]["network"]
    assert records[1]["memmap_mb"] == pytest.approx(48 * 48 * 48 * 3 / 2**20, abs=0.1)


@pytest.mark.parametrize(
    "option", [("--params", {"lr": 0.1}), ("--variants", {"slow": {"shift": 0}})]
)
def test_viewpoint_benchmark_refuses_capsnet_params_that_both_models_share(option, capsys):
    flag, value = option
    with pytest.raises(SystemExit):
        run_benchmark("bench_viewpoints.py", flag, json.dumps(value))
    assert "which the CapsNet and the CNN share" in capsys.readouterr().err


# about a million parameters at 40×40: a CNN of the same size is still possible
SMALL_CAPSNET = {"conv_channels": 32, "primary_types": 8, "decoder_hidden": [64, 128]}


@pytest.mark.slow
def test_viewpoint_benchmark_stops_both_models_at_the_same_held_out_accuracy(fashion_home, capsys):
    sizes = {"train": 40, "held_out": 20, "validation": 10, "test": 10}
    records = run_benchmark(
        "bench_viewpoints.py", "--data-home", fashion_home, "--datasets", "fashion",
        "--seeds", 0, "--max-epochs", 3, "--patience", 1, "--batch-size", 16, "--cpu",
        "--sizes", json.dumps(sizes),
        "--variants", json.dumps({"one_pass": {"routing_iterations": 1}}),
        "--params", json.dumps(SMALL_CAPSNET),
    )  # fmt: skip
    capsnet, cnn, variant, summary = records
    assert [r["model"] for r in records[:3]] == ["capsnet", "cnn", "one_pass"]
    assert abs(cnn["n_parameters"] / capsnet["n_parameters"] - 1) < 0.02  # of the same size
    for record in (capsnet, cnn):
        best = max(e["held_out"] for e in record["epochs"])
        assert record["target_held_out"] <= best
        reached = [e for e in record["epochs"] if e["held_out"] >= record["target_held_out"]]
        assert record["stopped_at_epoch"] == reached[0]["epoch"]  # the first to reach it
    bests = [max(e["held_out"] for e in r["epochs"]) for r in (capsnet, cnn)]
    assert capsnet["target_held_out"] == min(bests)  # the highest accuracy both reach
    assert capsnet["sizes"] == sizes and capsnet["capsnet_params"] == SMALL_CAPSNET
    assert variant["capsnet_params"] == {**SMALL_CAPSNET, "routing_iterations": 1}
    assert variant["cnn_at_same_target"]["held_out"] >= variant["target_held_out"]
    assert set(capsnet["by_strength"]) == {"rotation", "shear", "scale", "translation"}
    assert len(summary["capsnet"]["affine_test"]["per_seed"]) == 1
    assert summary["chosen_on_validation"] in ("capsnet", "one_pass")
    paired = summary["capsnet"]["minus_cnn_affine_test"]["per_seed"][0]
    assert paired == pytest.approx(capsnet["affine_test"] - cnn["affine_test"])
    assert capsnet["config"]["shift"] == 2 and cnn["precision"] == "float32"
    from bench_viewpoints import stopped_rising

    for record in (capsnet, cnn, variant):  # trained until the held-out accuracy stopped rising
        epochs = record["epochs"]
        assert len(epochs) == record["epochs_trained"] in (2, 3)
        assert record["stopped_rising"] == stopped_rising(epochs, 1)
        assert record["stopped_rising"] or len(epochs) == 3  # else at the cap
        assert not stopped_rising(epochs[:-1], 1)  # not a single epoch too late
        lrs = [1e-3 * 0.95**k for k in range(len(epochs))]
        assert [e["lr"] for e in epochs] == pytest.approx(lrs)
    progress = capsys.readouterr().err.splitlines()  # a line per model and epoch, as it goes
    expected = [
        f"fashion seed 0 {r['model']} epoch {e['epoch']}: held-out placed {e['held_out']:.3f}, "
        f"affine validation {e['affine_validation']:.3f}"
        for r in (capsnet, cnn, variant)
        for e in r["epochs"]
    ]
    assert [line.split(" (")[0] for line in progress if line.startswith("fashion")] == expected
    from viewpoints_report import markdown

    table = markdown(records)  # the tables of docs/benchmarks.md
    assert f"| capsnet | {100 * capsnet['held_out']:.1f} ± 0.0 %" in table
    assert "| one_pass `" + json.dumps(variant["capsnet_params"]) + "`" in table
    trained = f"{capsnet['epochs_trained']}{'' if capsnet['stopped_rising'] else '*'}"
    assert f"| {capsnet['stopped_at_epoch']} | {trained} | {capsnet['n_parameters']:,}" in table


@pytest.mark.slow
def test_until_decided_trains_the_cnn_first_and_each_capsnet_until_it_reaches_the_cnns_best(
    fashion_home, capsys
):
    from bench_viewpoints import why_stopped

    sizes = {"train": 40, "held_out": 20, "validation": 10, "test": 10}
    records = run_benchmark(
        "bench_viewpoints.py", "--data-home", fashion_home, "--datasets", "fashion",
        "--seeds", 0, "--max-epochs", 4, "--patience", 2, "--batch-size", 16, "--cpu",
        "--until-decided", "--sizes", json.dumps(sizes),
        "--variants", json.dumps({"one_pass": {"routing_iterations": 1}}),
        "--params", json.dumps(SMALL_CAPSNET),
    )  # fmt: skip
    capsnet, cnn, variant, _ = records
    best = max(e["held_out"] for e in cnn["epochs"])
    assert cnn["stopped_because"] == why_stopped(cnn["epochs"], 2, 4)  # its own plateau
    for record in (capsnet, variant):
        epochs = record["epochs"]
        assert record["stopped_because"] == why_stopped(epochs, 2, 4, reach=best)
        assert why_stopped(epochs[:-1], 2, 4, reach=best) is None  # not an epoch too late
        assert record["target_held_out"] == min(best, max(e["held_out"] for e in epochs))
        cnn_at_its_last = cnn["stopped_at_epoch"] == len(cnn["epochs"])  # a CapsNet that
        if record["stopped_because"] == "reached":  # stopped on reaching it is no alarm
            assert record["target_first_reached_at_the_last_epoch"] == cnn_at_its_last
    lines = [line.split(":")[0] for line in capsys.readouterr().err.splitlines()]
    order = ["fashion seed 0 capsnet epoch 1"] + [
        f"fashion seed 0 cnn epoch {e['epoch']}" for e in cnn["epochs"]
    ]  # one CapsNet epoch sizes the CNN, which then trains to its end
    assert lines[: len(order)] == order
    from viewpoints_report import markdown

    mark = {"reached": "†", "the cap": "*", "stopped rising": ""}[capsnet["stopped_because"]]
    trained = f"| {capsnet['stopped_at_epoch']} | {capsnet['epochs_trained']}{mark} |"
    assert trained in markdown(records)  # the table marks why each model stopped


@pytest.mark.slow
def test_seeds_run_side_by_side_in_worker_processes_give_the_records_of_one_process(
    fashion_home,
):
    sizes = {"train": 40, "held_out": 20, "validation": 10, "test": 10}
    flags = (
        "bench_viewpoints.py", "--data-home", fashion_home, "--datasets", "fashion",
        "--seeds", 0, 1, "--max-epochs", 1, "--batch-size", 16, "--plateau",
        "--sizes", json.dumps(sizes), "--params", json.dumps(SMALL_CAPSNET),
    )  # fmt: skip
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each worker runs: float sums in the same order
    try:
        alone = run_benchmark(*flags)
    finally:
        torch.set_num_threads(threads)
    side_by_side = run_benchmark(*flags, "--processes", 2)

    def scores(records):
        keep = ("seed", "model", "n_parameters", "epochs", "affine_test", "target_held_out")
        return [{k: r.get(k) for k in keep} for r in records[:-1]]

    assert [(r["seed"], r["model"]) for r in side_by_side[:-1]] == [
        (0, "capsnet"),
        (0, "cnn"),
        (1, "capsnet"),
        (1, "cnn"),
    ]  # in the order of the seeds, whichever worker finished first
    assert scores(side_by_side) == scores(alone)
    assert side_by_side[-1]["benchmark"] == "viewpoints_summary"


def test_reaching_the_target_at_the_last_epoch_is_an_alarm_unless_a_capsnet_stopped_on_it():
    from bench_viewpoints import reached_last

    capsnet, cnn = [0.6, 0.7], [0.5, 0.6, 0.7]  # the CNN's best at its last epoch, capped
    assert reached_last((2, 3), (capsnet, cnn), ("reached", "the cap"))
    assert not reached_last((2, 2), (capsnet, cnn[:2] + [0.65]), ("reached", "the cap"))
    assert reached_last((2, 1), (capsnet, cnn), ("the cap", "stopped rising"))


def test_a_capsnet_stops_on_reaching_the_cnns_best_unless_it_stopped_rising_or_at_the_cap():
    from bench_viewpoints import why_stopped

    def history(*accuracies):
        return [{"epoch": k + 1, "held_out": a} for k, a in enumerate(accuracies)]

    assert why_stopped(history(0.5, 0.6), 2, 5, reach=0.7) is None  # goes on
    assert why_stopped(history(0.5, 0.7), 2, 5, reach=0.7) == "reached"  # as high suffices
    assert why_stopped(history(0.5, 0.71), 2, 5) is None  # nothing to reach: goes on
    assert why_stopped(history(0.6, 0.5, 0.5), 2, 5, reach=0.7) == "stopped rising"
    assert why_stopped(history(0.5, 0.6), 2, 2, reach=0.7) == "the cap"
    assert why_stopped([], 2, 5, reach=0.0) is None  # not before its first epoch


def test_both_models_stop_at_the_first_epoch_reaching_the_best_accuracy_both_reach():
    from bench_viewpoints import same_accuracy

    def history(*accuracies):
        return [{"epoch": k + 1, "held_out": a} for k, a in enumerate(accuracies)]

    target, stops = same_accuracy(history(0.5, 0.8, 0.7, 0.9), history(0.6, 0.75, 0.85, 0.8))
    assert target == 0.85 and stops == [4, 3]
    assert same_accuracy(history(0.9, 0.95), history(0.4, 0.6)) == (0.6, [1, 2])


def test_affine_accuracy_at_the_exact_target_is_interpolated_between_epochs():
    from viewpoints_report import at_target

    epochs = [
        {"held_out": 0.5, "affine_validation": 0.3},
        {"held_out": 0.7, "affine_validation": 0.4},
        {"held_out": 0.9, "affine_validation": 0.6},
    ]
    assert at_target(epochs, 0.8) == pytest.approx(0.5)  # halfway from 0.4 to 0.6
    assert at_target(epochs, 0.7) == pytest.approx(0.4)  # reached exactly
    assert at_target(epochs, 0.4) == pytest.approx(0.3)  # at the first epoch already
    with pytest.raises(ValueError, match="never reaches"):
        at_target(epochs, 0.95)
    plateau = [*epochs[:2], {"held_out": 0.7, "affine_validation": 0.45}, epochs[2]]
    assert at_target(plateau, 0.7) == pytest.approx(0.4)  # the first epoch to reach it


def test_viewpoint_benchmark_enlarges_the_digits_to_mnist_size_and_splits_them_apart():
    from bench_viewpoints import digits_like_mnist, split

    X, y = digits_like_mnist()
    assert X.shape == (1797, 28, 28) and X.dtype == np.uint8 and X.max() > 200
    assert X[:, :3].max() == 0 and X[:, 25:].max() == 0  # 20×20 in a 28×28 frame, as MNIST
    parts = split("digits", {}, seed=0)
    sizes = {name: len(labels) for name, (_, labels) in parts.items()}
    assert sum(sizes.values()) == 1797 and sizes["test"] == 450
    assert all(images.shape[1:] == (28, 28) for images, _ in parts.values())
    seen = {name: {images.tobytes() for images in parts[name][0]} for name in parts}
    assert not seen["train"] & seen["test"] and not seen["held_out"] & seen["validation"]


def test_one_transform_at_one_strength_turns_half_the_images_each_way():
    from bench_viewpoints import signed

    images = np.zeros((4, 28, 28), np.uint8)
    images[:, 4:24, 12:15] = 255  # a vertical bar
    images[:, 4:8, 15:22] = 200  # a flag at its top, to the right: no symmetry
    centred = make_affine(images, 40, rotation=0, shear=0, scale=1, translation=0)
    turned = signed(images, "rotation", 90, seed=0)
    np.testing.assert_array_equal(turned[:2], np.rot90(centred[:2], 1, axes=(1, 2)))
    np.testing.assert_array_equal(turned[2:], np.rot90(centred[2:], -1, axes=(1, 2)))
    moved, info = make_affine(images, 40, rotation=0, shear=0, scale=1, translation=4,
                              random_state=1, return_transforms=True)  # fmt: skip
    np.testing.assert_array_equal(signed(images, "translation", 4, seed=1), moved)
    assert np.abs(info.translation).max() <= 4


def test_bench_busy_times_each_case_alone_and_beside_a_busy_process():
    records = run_benchmark("bench_busy.py", "--epochs", 1, "--rounds", 1, "--rows", 32)
    cases = {(r["beside"], r["threads"]) for r in records}
    assert cases == {
        (beside, threads)
        for beside in ("nothing", "a busy process")
        for threads in ("adapting", "fixed")
    }
    for record in records:
        assert record["fit_s"] > 0 and record["epochs"] == 1 and record["rows"] == 32
        assert all(1 <= t <= record["torch_threads"] for t in record["threads_chosen"])


def test_bench_precision_compares_auto_with_the_better_of_float32_and_bf16():
    (record,) = run_benchmark(
        "bench_precision.py", "--shapes", "16x16x1", "--rows", 8, "--rounds", 1
    )
    assert record["shape"] == "16x16x1" and record["rows"] == 8
    assert record["auto_trains_in"] in ("bf16", "float32")
    best = min(record["no_epoch_s"], record["bf16_epoch_s"])
    assert record["auto_epoch_vs_best"] == pytest.approx(record["auto_epoch_s"] / best, rel=0.1)


def test_bench_loop_times_skorchs_loop_against_a_deferred_one_in_alternating_rounds():
    records = run_benchmark(
        "bench_loop.py", "--samples", 24, "--batch-size", 8, "--epochs", 2, "--rounds", 2
    )
    rounds = [(r["loop"], r["round"]) for r in records[:-1]]
    assert rounds == [("deferred", 0), ("skorch", 0), ("skorch", 1), ("deferred", 1)]
    ran = {r["loop"]: r["ran"] for r in records[:-1]}
    assert ran == {
        "deferred": "deferred_epoch",
        "skorch": "NeuralNet.run_single_epoch",
    }
    assert all(len(r["epoch_s"]) == 1 and r["epoch_s"][0] > 0 for r in records[:-1])
    summary = records[-1]
    median = summary["median_epoch_s"]
    assert summary["skorch_over_deferred"] == pytest.approx(
        median["skorch"] / median["deferred"], abs=1e-3
    )


def test_a_model_stops_once_its_held_out_accuracy_has_not_risen_for_patience_epochs():
    from bench_viewpoints import stopped_rising

    def history(*accuracies):
        return [{"epoch": k + 1, "held_out": a} for k, a in enumerate(accuracies)]

    assert stopped_rising(history(0.5, 0.7, 0.7, 0.6), patience=2)  # level, then lower
    assert not stopped_rising(history(0.5, 0.7, 0.6, 0.71), patience=2)  # rose again
    assert not stopped_rising(history(0.5, 0.7, 0.6), patience=2)  # one epoch without
    assert stopped_rising(history(0.5, 0.7, 0.6), patience=1)
    assert not stopped_rising(history(0.5, 0.4), patience=2)  # too few epochs to say
    assert not stopped_rising(history(0.9, 0.1, 0.1, 0.1), patience=0)  # 0: never stops


@pytest.mark.parametrize(
    "flags, expected",
    [
        ([], (30, 3, 128, True)),  # the full run: until 3 epochs without a rise
        (["--cpu"], (8, 0, 64, False)),  # the first CPU protocol: a fixed 8 epochs
        (["--plateau"], (12, 2, 64, True)),
        (["--plateau", "--patience", "0", "--max-epochs", "5"], (5, 0, 64, True)),  # as given
        (["--plateau", "--no-until-decided"], (12, 2, 64, False)),
    ],
)
def test_viewpoint_run_sizes_set_epochs_patience_and_batch_unless_given(flags, expected):
    from bench_viewpoints import parse_args

    args = parse_args(flags)
    assert (args.max_epochs, args.patience, args.batch_size, args.until_decided) == expected
