"""The main job, `python -m sklearn_capsnet`, end to end (shortened to one epoch)."""

import matplotlib

matplotlib.use("Agg")

from sklearn_capsnet.__main__ import main  # noqa: E402


def test_demo_prints_accuracy_and_writes_reconstruction_png(tmp_path, capsys):
    output = tmp_path / "digits.png"
    accuracy = main(["--max-epochs", "1", "--output", str(output), "--quiet"])
    assert 0.0 <= accuracy <= 1.0
    assert output.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = capsys.readouterr().out
    assert "held-out accuracy" in out and str(output) in out


def test_reconstruction_display_plots_originals_above_reconstructions():
    import numpy as np

    from sklearn_capsnet.plotting import ReconstructionDisplay

    display = ReconstructionDisplay(np.zeros((3, 16)), np.ones((3, 16)), (1, 4, 4), [0, 1, 2])
    display.plot()
    assert display.axes_.shape == (2, 3)
    assert display.axes_[0, 2].get_title() == "2"
    colour = ReconstructionDisplay(np.zeros((2, 48)), np.ones((2, 48)), (3, 4, 4)).plot()
    assert colour.axes_[1, 0].images[0].get_array().shape == (4, 4, 3)
