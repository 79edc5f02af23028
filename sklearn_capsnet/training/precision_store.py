"""The precision measurements of ``mixed_precision="auto"``, kept on disk between processes.

A measurement (:func:`~sklearn_capsnet.training.precision.measured_precision`) costs a
few training steps, and where bf16 and float32 are close its answer could differ from
run to run. Kept in a small JSON file, it is taken once per machine for each network,
input shape, batch size, work and thread count: later processes read the answer
instead of measuring again, so a fixed ``random_state`` gives the same model on that
machine run after run. The key also holds the CPU's name and the torch version, so a
new CPU or torch measures again.

Where: the folder ``$SKLEARN_CAPSNET_CACHE_DIR``, else ``$XDG_CACHE_HOME/sklearn-capsnet``,
else ``~/.cache/sklearn-capsnet``; the file ``precision.json``. Set
``SKLEARN_CAPSNET_CACHE_DIR`` to an empty string to keep nothing on disk (each process
measures), or delete the file to measure again (after a BIOS or power-plan change, say).
A folder that cannot be written, or a file that cannot be read, costs only the
measurement: nothing is raised.
"""

import datetime
import hashlib
import json
import os
import platform
from pathlib import Path

import torch

from ..io.atomic import write_atomically

__all__ = ["CACHE_ENV", "store_path", "recall", "remember"]

CACHE_ENV = "SKLEARN_CAPSNET_CACHE_DIR"
FILE_NAME = "precision.json"


def store_path() -> Path | None:
    """The file the measurements are kept in, or None where the variable is set empty."""
    folder = os.environ.get(CACHE_ENV)
    if folder is None:
        root = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
        folder = os.path.join(os.path.expanduser(root), "sklearn-capsnet")
    return Path(folder) / FILE_NAME if folder else None


def _cpu_name() -> str:
    """The CPU's model name (Linux: /proc/cpuinfo), else what the platform says."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _key(what: tuple) -> str:
    """One line of the file per machine, torch and measured work: a digest of them."""
    described = repr((_cpu_name(), os.cpu_count(), torch.__version__, what))
    return hashlib.sha256(described.encode()).hexdigest()[:32]


def _read(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as handle:
            stored = json.load(handle)
    except (OSError, ValueError):
        return {}
    return stored if isinstance(stored, dict) else {}


def recall(what: tuple) -> dict | None:
    """The stored measurement of ``what`` (``float32_s``, ``bf16_s``, ``date``), or None."""
    path = store_path()
    if path is None:
        return None
    entry = _read(path).get(_key(what))
    fields = ("float32_s", "bf16_s", "date")
    if not isinstance(entry, dict) or any(field not in entry for field in fields):
        return None
    if not all(isinstance(entry[f], float | int) and entry[f] > 0 for f in fields[:2]):
        return None
    return entry


def remember(what: tuple, float32_s: float, bf16_s: float) -> None:
    """Store a measurement of ``what`` for later processes; a write that fails is let go."""
    path = store_path()
    if path is None:
        return
    stored = _read(path)
    stored[_key(what)] = {
        "float32_s": float32_s,
        "bf16_s": bf16_s,
        "date": datetime.date.today().isoformat(),
        "cpu": _cpu_name(),
        "torch": torch.__version__,
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps(stored, indent=1, sort_keys=True).encode()
        write_atomically(path, data, what="a precision measurement", outcome="none")
    except OSError:
        pass
