"""The docs' plot of accuracy against size reads the benchmark's JSON lines as measured."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "docs"))
from size_plot import size_accuracies, size_gaps, write_size_plot  # noqa: E402


def _line(side, way, accuracy, seed=None):
    record = {"benchmark": "sizes", "task": "fashion", "side": side, "way": way}
    return json.dumps({**record, "accuracy": accuracy, **({} if seed is None else {"seed": seed})})


def test_each_size_is_compared_with_the_28_pixel_run_of_its_own_seed(tmp_path):
    results = tmp_path / "sizes.jsonl"
    lines = [
        _line(28, "as is", 0.77),  # the first runs wrote no seed: seed 0
        _line(28, "as is", 0.71, seed=1),
        _line(64, "centred", 0.75, seed=0),
        _line(64, "centred", 0.74, seed=1),
        _line(64, "upsampled", 0.80),
        json.dumps({"benchmark": "sizes", "task": "overlapping", "side": 36}),
    ]
    results.write_text("\n".join(lines) + "\n")
    found = size_accuracies(results)
    assert set(found) == {("as is", 28), ("centred", 64), ("upsampled", 64)}
    gaps = size_gaps(found)
    assert gaps["centred"][64] == pytest.approx([-2.0, 3.0])  # 75 - 77, 74 - 71
    assert gaps["upsampled"][64] == pytest.approx([3.0])
    pytest.importorskip("matplotlib")
    write_size_plot(results, tmp_path / "plot.png")
    assert (tmp_path / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
