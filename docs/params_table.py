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


def write_params_table(path: Path) -> None:
    """Write a ``list-table`` of every hyper-parameter: name, default, where it acts, gist."""
    lines = [
        ".. list-table::",
        "   :header-rows: 1",
        "   :widths: 22 14 14 50",
        "",
        "   * - hyper-parameter",
        "     - default",
        "     - acts on",
        "     - in short (the API reference has the whole text)",
    ]
    for p in PARAMS:
        owner = f" ({p.owner} only)" if p.owner else ""
        lines += [
            f"   * - ``{p.name}``",
            f"     - ``{_show(p.default)}``",
            f"     - {WHERE[p.acts]}",
            f"     - {_summary(p.doc)}{owner}",
        ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
