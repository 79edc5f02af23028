"""What identifies one fit in its checkpoint, and what a resumed fit may change."""

import hashlib

import numpy as np

__all__ = ["DATA_ROWS_READ", "differences", "fit_record"]

DATA_ROWS_READ = 64  # rows of X read into the data digest, evenly spaced


def fit_record(params: dict, resumable, X=None, y=None, weight=None) -> dict:
    """What identifies one fit in its checkpoint: its settings and its training data.

    ``settings``: each hyper-parameter that shapes what is learnt, as JSON: those of
    ``params`` not in ``resumable`` (the names a resumed fit may change, from the
    parameter table). ``data``:
    a SHA-256 of X's shape and dtype, of :data:`DATA_ROWS_READ` evenly spaced rows of
    X, and of every label and weight (so another fold of a cross-validation differs);
    None for ``partial_fit``, whose data change from call to call.
    """
    settings = {
        name: _plain(value) for name, value in sorted(params.items()) if name not in resumable
    }
    if X is None:
        return {"settings": settings, "data": None}
    digest = hashlib.sha256(repr((tuple(X.shape), str(X.dtype))).encode())
    rows = np.unique(np.linspace(0, len(X) - 1, min(len(X), DATA_ROWS_READ)).astype(int))
    for part in (X[rows], y, weight):
        if part is not None:
            digest.update(np.ascontiguousarray(np.asarray(part)).tobytes())
    return {"settings": settings, "data": digest.hexdigest()}


def _plain(value):
    """``value`` as JSON that is the same in every process (a class by its name)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, type):
        return f"{value.__module__}.{value.__qualname__}"
    return type(value).__name__  # an object: its kind only


def differences(written: dict, now: dict) -> list[str]:
    """What differs between the fit that wrote a set and this one, in words."""
    said = []
    before, after = written.get("settings", {}), now["settings"]
    for name in sorted(set(before) | set(after)):
        if before.get(name) != after.get(name):
            said.append(f"{name} was {before.get(name)!r}, is {after.get(name)!r} now")
    if written.get("data") is not None and now["data"] is not None:
        if written["data"] != now["data"]:
            said.append("the training data differ (other rows, labels or weights)")
    return said
