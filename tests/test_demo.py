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


def test_perturbation_display_decodes_each_dimension_moved(capsys, digits, digits_model):
    import numpy as np

    from sklearn_capsnet.plotting import PerturbationDisplay

    X, clf = digits[1], digits_model  # the test digits, the tiny network fitted on the others
    display = PerturbationDisplay.from_estimator(clf, X[0], dims=[0, 3])
    assert display.images.shape == (2, 11, 64)
    assert display.axes_.shape == (2, 11)
    # the centre column (delta 0) is the plain reconstruction of the predicted class
    np.testing.assert_allclose(display.images[0, 5], clf.reconstruct(X[:1])[0], rtol=1e-5)
    assert not np.allclose(display.images[0, 0], display.images[0, 10])


def test_capsules_and_decode_round_trip_to_reconstruct():
    import numpy as np
    from sklearn.datasets import load_digits

    from sklearn_capsnet import CapsNetClassifier
    from sklearn_capsnet._testing import tiny

    X, y = load_digits(return_X_y=True)
    clf = CapsNetClassifier(**tiny(max_epochs=1, capsule_dim=6), random_state=0)
    clf.fit(X[:100], y[:100])
    capsules = clf.capsules(X[:7])
    assert capsules.shape == (7, 10, 6) and capsules.dtype == np.float32
    np.testing.assert_allclose(clf.decode(capsules), clf.reconstruct(X[:7]), rtol=1e-5)
