"""The user guide's table of hyper-parameters, written from the one table in the code."""

import re
from pathlib import Path

from sklearn_capsnet.estimator.params import PARAMS, _show

WHERE = {
    "network": "network",
    "training": "training",
    "loader": "training data",
    "prediction": "prediction",
    "precision": "training, prediction",
    "placement": "device",
    "data": "reading ``X``",
    "output": "``transform``",
}


def _summary(doc: str) -> str:
    """The first sentence of a parameter's documentation, on one line."""
    text = re.sub(r":meth:`(\w+)`", r"``\1``", " ".join(doc.split()))
    match = re.match(r"(.+?\.)(\s+[A-Z`(]|$)", text)
    return match.group(1) if match else text


def _after_fit(p) -> str:
    """What a fitted model does with a change of ``p``, from the table's policy flags."""
    if p.at_prediction:
        said = "read at each prediction"
    elif p.acts == "network":
        said = "the next ``fit``: the model keeps the network it built"
    else:
        said = "the next ``fit``"
    said += "; a resumed fit may change it" if p.resumable else ""
    return said + ("" if p.saved is not None else "; not in the model file")


def write_params_table(path: Path) -> None:
    """Write a ``list-table`` of every hyper-parameter: name, default, where it acts, what
    a change after ``fit`` does, gist."""
    lines = [
        ".. list-table::",
        "   :header-rows: 1",
        "   :widths: 18 12 12 20 38",
        "",
        "   * - hyper-parameter",
        "     - default",
        "     - acts on",
        "     - a ``set_params`` after ``fit`` acts at",
        "     - in short (the API reference has the whole text)",
    ]
    for p in PARAMS:
        owner = f" ({p.owner} only)" if p.owner else ""
        lines += [
            f"   * - ``{p.name}``",
            f"     - ``{_show(p.default)}``",
            f"     - {WHERE[p.acts]}",
            f"     - {_after_fit(p)}",
            f"     - {_summary(p.doc)}{owner}",
        ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
