"""The precision measurements of ``mixed_precision="auto"``, kept on disk between processes.

A measurement (:func:`~sklearn_capsnet.training.precision.measured_precision`) costs a
few training steps, and where bf16 and float32 are close its answer could differ from
run to run. Kept on disk, it is taken once per machine for each network, input shape,
batch size, work and thread count: later processes read the answer instead of
measuring again, so a fixed ``random_state`` (with a fixed thread count:
``OMP_NUM_THREADS``) gives the same model on that machine run after run. The key also
holds the CPU's name and core count and the torch and sklearn-capsnet versions, so a
new CPU or an upgrade measures again.

Where: the folder ``$SKLEARN_CAPSNET_CACHE_DIR``, else ``$XDG_CACHE_HOME/sklearn-capsnet``,
else ``~/.cache/sklearn-capsnet``; in it ``precision/``, one small JSON file per key.
Set ``SKLEARN_CAPSNET_CACHE_DIR`` to an empty string to keep nothing on disk (each
process measures), or delete the folder to measure again (after a BIOS or power-plan
change, say). A sound file is written once and never replaced: of two processes
measuring the same work at once, the first to finish writes, and the other takes its
answer; a damaged one is replaced. A folder that cannot be written (or a file system
without hard links) costs only the measurement: nothing is raised.
"""

import datetime
import hashlib
import json
import math
import os
import platform
import tempfile
from pathlib import Path

import torch

__all__ = ["CACHE_ENV", "store_folder", "recall", "remember"]

CACHE_ENV = "SKLEARN_CAPSNET_CACHE_DIR"
SCHEMA = 1  # of the key and the entries: a change measures again


def store_folder() -> Path | None:
    """The folder of the measurements, or None where the variable is set empty."""
    folder = os.environ.get(CACHE_ENV)
    if folder is None:
        root = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
        folder = os.path.join(os.path.expanduser(root), "sklearn-capsnet")
    return Path(folder) / "precision" if folder else None


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


def _file(what: tuple) -> Path | None:
    """The file of ``what`` on this machine, torch and sklearn-capsnet: named by a digest."""
    folder = store_folder()
    if folder is None:
        return None
    from .. import __version__

    described = repr((SCHEMA, _cpu_name(), os.cpu_count(), torch.__version__, __version__, what))
    return folder / f"{hashlib.sha256(described.encode()).hexdigest()[:32]}.json"


def _entry(path: Path) -> dict | None:
    """The measurement in ``path`` if it is whole and sound, else None."""
    try:
        with open(path, encoding="utf-8") as handle:
            entry = json.load(handle)
    except Exception:  # missing, unreadable, half a file, nested past the recursion limit
        return None
    if not isinstance(entry, dict) or not isinstance(entry.get("date"), str):
        return None
    for field in ("float32_s", "bf16_s"):
        value = entry.get(field)
        if not isinstance(value, float | int) or isinstance(value, bool):
            return None
        if not (math.isfinite(value) and value > 0):
            return None
    return entry


def recall(what: tuple) -> dict | None:
    """The stored measurement of ``what`` (``float32_s``, ``bf16_s``, ``date``), or None."""
    path = _file(what)
    return None if path is None else _entry(path)


def remember(what: tuple, float32_s: float, bf16_s: float, about: dict | None = None):
    """Store a measurement of ``what`` unless one is there; ``about`` says in words what
    was measured (the file's name is a digest).

    The file is made whole under a temporary name, then linked to its own name, which
    fails where another process was first: that process's entry is returned, to be used
    instead. Otherwise None (stored, or a write that failed and is let go).
    """
    path = _file(what)
    if path is None:
        return None
    entry = {
        "float32_s": float32_s,
        "bf16_s": bf16_s,
        "date": datetime.date.today().isoformat(),
        "cpu": _cpu_name(),
        "torch": torch.__version__,
        "measured": about or {},
    }
    temporary = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".", suffix=".json", dir=path.parent)
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            json.dump(entry, file, indent=1)
        try:
            os.link(temporary, path)  # atomic, and refused where the name exists
        except FileExistsError:
            first = _entry(path)
            if first is not None:
                return first
            os.replace(temporary, path)  # a damaged file: this answer replaces it
    except OSError:
        return None
    finally:
        if temporary is not None:
            try:
                os.remove(temporary)
            except OSError:
                pass
    return None
