"""Write small Sphinx inventories for scikit-learn, PyTorch and skorch, offline.

The docs build has no network, so intersphinx cannot fetch the projects' own
``objects.inv``. These list the objects our pages refer to, with their real URLs.
"""

import zlib
from pathlib import Path

SKLEARN = "https://scikit-learn.org/stable/"
TORCH = "https://docs.pytorch.org/docs/stable/"
SKORCH = "https://skorch.readthedocs.io/en/stable/"

OBJECTS = {
    "sklearn": (
        "scikit-learn",
        [
            (f"sklearn.{name}", "py:class", f"modules/generated/sklearn.{name}.html#$")
            for name in (
                "base.BaseEstimator",
                "base.ClassifierMixin",
                "base.TransformerMixin",
                "pipeline.Pipeline",
                "model_selection.GridSearchCV",
                "calibration.CalibratedClassifierCV",
                "ensemble.StackingClassifier",
                "linear_model.LogisticRegression",
                "neural_network.MLPClassifier",
                "svm.SVC",
                "utils.Bunch",
                "metrics.ConfusionMatrixDisplay",
                "decomposition.PCA",
            )
        ]
        + [
            (f"sklearn.{name}", "py:function", f"modules/generated/sklearn.{name}.html#$")
            for name in (
                "pipeline.make_pipeline",
                "model_selection.cross_val_score",
                "model_selection.cross_validate",
                "model_selection.train_test_split",
                "datasets.load_digits",
                "utils.estimator_checks.parametrize_with_checks",
            )
        ]
        + [("sklearn.datasets", "py:module", "api/sklearn.datasets.html#module-$")],
    ),
    "torch": (
        "PyTorch",
        [
            ("torch.nn.Module", "py:class", "generated/torch.nn.Module.html#$"),
            ("torch.Tensor", "py:class", "tensors.html#$"),
            ("torch.optim.Adam", "py:class", "generated/torch.optim.Adam.html#$"),
            ("torch.compile", "py:function", "generated/torch.compile.html#$"),
            ("torch.Generator", "py:class", "generated/torch.Generator.html#$"),
        ],
    ),
    "skorch": (
        "skorch",
        [
            ("skorch.net.NeuralNet", "py:class", "net.html#$"),
            ("skorch.NeuralNet", "py:class", "net.html#skorch.net.NeuralNet"),
            ("skorch.callbacks.Callback", "py:class", "callbacks.html#$"),
            ("skorch.callbacks.Checkpoint", "py:class", "callbacks.html#$"),
            ("skorch.callbacks.LRScheduler", "py:class", "callbacks.html#$"),
            ("skorch.callbacks.ProgressBar", "py:class", "callbacks.html#$"),
            ("skorch.dataset.ValidSplit", "py:class", "dataset.html#$"),
            ("skorch.history.History", "py:class", "history.html#$"),
        ],
    ),
}


def write_inventories(folder: Path) -> dict:
    """Write one ``<key>.inv`` per project into ``folder``; return intersphinx_mapping."""
    folder.mkdir(parents=True, exist_ok=True)
    mapping = {}
    base = {"sklearn": SKLEARN, "torch": TORCH, "skorch": SKORCH}
    for key, (project, objects) in OBJECTS.items():
        lines = "".join(f"{name} {role} 1 {uri} -\n" for name, role, uri in objects)
        header = (
            "# Sphinx inventory version 2\n"
            f"# Project: {project}\n# Version: \n"
            "# The remainder of this file is compressed using zlib.\n"
        )
        path = folder / f"{key}.inv"
        path.write_bytes(header.encode() + zlib.compress(lines.encode()))
        mapping[key] = (base[key], str(path))
    return mapping
