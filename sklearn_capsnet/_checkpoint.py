"""Checkpoints that survive ``kill -9`` and a full disk: each epoch's set whole, or not at all.

A checkpoint folder holds::

    LATEST              the name of the newest complete set (replaced atomically); empty
                        until the first set is complete
    epoch-000012/       params.pt, optimizer.pt, history.json, manifest.json
    .lock               held by the one process that writes here (released when it dies)

Each epoch's set is written into a temporary folder ``.tmp-<pid>-<epoch>``: every
file flushed to the disk, then ``manifest.json`` with the size and SHA-256 of each;
the folder is renamed to ``epoch-<epoch>`` and ``LATEST`` is replaced to name it,
each step flushed. Until ``LATEST`` changes, the previous set is the checkpoint; a
kill at any instant leaves one complete set, and the next ``fit`` removes what a
killed write left behind. A write that fails raises a :class:`~._files.WriteError`
(an ``OSError``) during that epoch: the previous set stays the checkpoint. Resuming
checks every file against the manifest before loading any, and names a damaged one.

Folders written before this layout (the three files at the top) are still read.
A folder whose ``LATEST`` was deleted while it holds sets is refused, never emptied.
Under data-parallel training only the main process writes, locks and cleans up; all
processes read the checkpoint, and all are refused when the folder is in use.
"""

import contextlib
import errno
import hashlib
import io
import json
import os
import shutil

import numpy as np
from skorch.callbacks import Callback

from ._files import fsync_folder, write_atomically, write_durably, write_error

__all__ = ["AtomicCheckpoint", "CheckpointInUse", "folder_lock", "resume"]

FILES = ("params.pt", "optimizer.pt", "history.json")
MANIFEST, POINTER, LOCK = "manifest.json", "LATEST", ".lock"
SET_PREFIX, TEMPORARY_PREFIX = "epoch-", ".tmp-"


def _reached(step: str, epoch: int) -> None:
    """A point of the write protocol of ``epoch``'s set; tests replace this to kill the
    process there (``tests/checkpoint_job.py``)."""


class CheckpointInUse(OSError):
    """Another live process is writing checkpoints into the same folder."""


class AtomicCheckpoint(Callback):
    """Write the net's weights, optimizer state and history after every epoch, atomically.

    Records ``event_cp`` in the history, as skorch's ``Checkpoint`` does. Under
    data-parallel training every process takes part in collecting the state, and
    only the main process writes.

    Parameters
    ----------
    dirname : str or os.PathLike
        The checkpoint folder; created if missing.
    """

    def __init__(self, dirname):
        self.dirname = dirname

    def on_epoch_end(self, net, **kwargs):
        net.history.record("event_cp", True)
        write_set(net, self.dirname)


class _Kept(io.BytesIO):
    """A buffer that keeps its contents when skorch closes it after writing."""

    def close(self):
        pass


def _state_bytes(net) -> dict | None:
    """The files of one set as bytes; None on a data-parallel process that does not write."""
    params, optimizer = _Kept(), _Kept()
    net.save_params(f_params=params, f_optimizer=optimizer)  # every process must call this
    accelerator = getattr(net, "accelerator", None)
    if accelerator is not None and not accelerator.is_main_process:
        return None
    history = json.dumps(net.history.to_list()).encode()
    return {"params.pt": params.getvalue(), "optimizer.pt": optimizer.getvalue(),
            "history.json": history}  # fmt: skip


def write_set(net, dirname) -> None:
    """Write the current epoch's set into ``dirname`` and make it the checkpoint."""
    files = _state_bytes(net)
    if files is None:
        return
    epoch = len(net.history)
    folder = os.fspath(dirname)
    previous = current_set(folder)
    name = f"{SET_PREFIX}{epoch:06d}"
    if name == previous:  # this epoch again (partial_fit does not resume): a name of its own
        name += f".{os.getpid()}"
    temporary = os.path.join(folder, f"{TEMPORARY_PREFIX}{os.getpid()}-{epoch}")
    if not previous:
        outcome = f"{folder!r} held no checkpoint yet"
    else:
        outcome = f"the checkpoint of epoch {_epoch_of(previous)} in {folder!r} is intact"
    if previous is None:  # say "no set yet" before the first one appears (see resume)
        write_atomically(
            os.path.join(folder, POINTER), b"", what=f"the checkpoint of epoch {epoch}",
            outcome=outcome,
        )  # fmt: skip
    path = temporary
    try:
        os.makedirs(folder, exist_ok=True)
        shutil.rmtree(temporary, ignore_errors=True)
        os.mkdir(temporary)
        _reached("folder", epoch)
        manifest = {"epoch": epoch, "files": {}, "fit": getattr(net, "checkpoint_fit", None)}
        for file_name, data in files.items():
            path = os.path.join(temporary, file_name)
            write_durably(path, data)
            manifest["files"][file_name] = {"bytes": len(data), "sha256": _sha256(data)}
            _reached(file_name, epoch)
        path = os.path.join(temporary, MANIFEST)
        write_durably(path, json.dumps(manifest, indent=1).encode())
        fsync_folder(temporary)
        _reached(MANIFEST, epoch)
        path = os.path.join(folder, name)
        shutil.rmtree(path, ignore_errors=True)  # an uncommitted set of a killed run
        os.rename(temporary, path)
        fsync_folder(folder)
        _reached("renamed", epoch)
    except OSError as error:
        shutil.rmtree(temporary, ignore_errors=True)
        raise write_error(
            error, path, what=f"the checkpoint of epoch {epoch}", outcome=outcome
        ) from error
    write_atomically(
        os.path.join(folder, POINTER),
        name.encode(),
        what=f"the checkpoint of epoch {epoch}",
        outcome=outcome,
    )
    _reached(POINTER, epoch)
    _remove_stale(folder, name, old_layout=True)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# Settings a resumed fit may change: how long, where, how loudly, how fast; not what is learnt.
RESUMABLE_CHANGES = frozenset({
    "max_epochs", "checkpoint", "verbose", "progress_bar", "device", "accelerator",
    "compile", "memory_format", "mixed_precision", "predict_batch_size", "threshold",
    "callbacks",
})  # fmt: skip
DATA_ROWS_READ = 64  # rows of X read into the data digest, evenly spaced


def fit_record(params: dict, X=None, y=None, weight=None) -> dict:
    """What identifies one fit in its checkpoint: its settings and its training data.

    ``settings``: each hyper-parameter that shapes what is learnt, as JSON. ``data``:
    a SHA-256 of X's shape and dtype, of :data:`DATA_ROWS_READ` evenly spaced rows of
    X, and of every label and weight (so another fold of a cross-validation differs);
    None for ``partial_fit``, whose data change from call to call.
    """
    settings = {
        name: _plain(value)
        for name, value in sorted(params.items())
        if name not in RESUMABLE_CHANGES
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


def _differences(written: dict, now: dict) -> list[str]:
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


def _epoch_of(set_name: str) -> str:
    """The epoch a set's name says, for messages ("3"), or its name if it says none."""
    number = set_name.removeprefix(SET_PREFIX).split(".")[0]
    return str(int(number)) if number.isdigit() else repr(set_name)


def current_set(folder) -> str | None:
    """What ``LATEST`` says: the name of the current set, ``""`` before the first set is
    complete, None when there is no ``LATEST``."""
    try:
        with open(os.path.join(folder, POINTER), "rb") as handle:
            return handle.read().decode("utf-8", errors="replace").strip()
    except FileNotFoundError:
        return None


def _is_main_process(accelerator) -> bool:
    return accelerator is None or accelerator.is_main_process


def _remove_stale(folder, keep: str | None, *, old_layout: bool = False) -> None:
    """Remove temporary folders of killed writes and sets other than ``keep``; with
    ``old_layout``, also the top-level files of folders written before manifests."""
    for entry in os.listdir(folder):
        path = os.path.join(folder, entry)
        if entry.startswith((SET_PREFIX, TEMPORARY_PREFIX)) and entry != keep:
            shutil.rmtree(path, ignore_errors=True)
        elif entry.startswith(f".{POINTER}.") or (old_layout and entry in FILES):
            with contextlib.suppress(OSError):
                os.remove(path)


def resume(net, dirname) -> None:
    """Load the checkpoint in ``dirname`` into ``net``, if there is one.

    Every file is checked (sizes and SHA-256 against the manifest; in the old layout,
    each file parsed) before any is loaded. The main process then removes what killed
    writes left behind.

    Raises
    ------
    ValueError
        A damaged file (named, with what is wrong), a folder whose ``LATEST`` was
        removed, or a checkpoint of another model.
    """
    folder = os.fspath(dirname)
    if not os.path.isdir(folder):
        return
    name = current_set(folder)
    old_files = [f for f in FILES if os.path.exists(os.path.join(folder, f))]
    sets = sorted(e for e in os.listdir(folder) if e.startswith(SET_PREFIX))
    if name:
        contents = _read_set(folder, name)
    elif old_files:
        contents = _read_old_layout(folder, old_files)
    elif name is None and sets:
        raise ValueError(
            f"the checkpoint folder {folder!r} holds {', '.join(sets)} but no {POINTER} "
            f"file, which names the complete one; write that name into {POINTER} to resume "
            "from it, or delete the folder to train from the start. Nothing was loaded."
        )
    else:
        contents = None
    if _is_main_process(getattr(net, "accelerator", None)):
        _remove_stale(folder, name)
    if contents is None:
        return
    written, now = contents.get("fit"), getattr(net, "checkpoint_fit", None)
    differences = _differences(written, now) if isinstance(written, dict) and now else []
    if differences:
        raise ValueError(
            f"the checkpoint in {folder!r} was written by another fit: "
            f"{'; '.join(differences)}. A checkpoint resumes only the fit that wrote it: "
            "delete it or pass another checkpoint directory (one per model, and one per "
            "fold in a cross-validation). Nothing was loaded."
        )
    try:
        net.load_params(
            f_params=io.BytesIO(contents["params.pt"]),
            f_optimizer=io.BytesIO(contents["optimizer.pt"]),
            f_history=io.StringIO(contents["history.json"].decode()),
        )
    except (RuntimeError, ValueError, KeyError) as error:
        raise ValueError(
            f"the checkpoint in {folder!r} does not fit this model and data "
            f"({_first_lines(error)}); delete it or pass another checkpoint directory."
        ) from error
    if net.verbose:
        epoch = len(net.history)
        print(f"Resumed from the checkpoint of epoch {epoch} in {folder!r}.", flush=True)


def _first_lines(error: Exception, limit: int = 300) -> str:
    """The start of ``error``'s message on one line (torch's says what differs on line 2)."""
    text = " ".join(line.strip() for line in str(error).splitlines()[:3] if line.strip())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _damaged(path, what: str, folder) -> ValueError:
    return ValueError(
        f"the checkpoint file {os.fspath(path)!r} is damaged: {what}. Nothing was loaded. "
        f"Delete the folder {os.fspath(folder)!r} to train from the start, or pass another "
        "checkpoint directory."
    )


def _read_set(folder, name) -> dict:
    """The verified files of set ``name``: each exactly as the manifest describes it."""
    set_folder = os.path.join(folder, name)
    manifest_path = os.path.join(set_folder, MANIFEST)
    if not os.path.isdir(set_folder):
        raise _damaged(
            os.path.join(folder, POINTER), f"it names {name!r}, which is not there", folder
        )
    try:
        with open(manifest_path, "rb") as handle:
            manifest = json.loads(handle.read())
        described = manifest["files"]
        if not isinstance(described, dict):
            raise TypeError("'files' is not a mapping")
    except FileNotFoundError:
        raise _damaged(manifest_path, "it is missing", folder) from None
    except (ValueError, KeyError, TypeError) as error:
        raise _damaged(
            manifest_path, f"it is not the manifest written with it ({error})", folder
        ) from None
    contents = {}
    for file_name in FILES:
        path = os.path.join(set_folder, file_name)
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            raise _damaged(path, "it is missing", folder) from None
        expected = described.get(file_name)
        if not isinstance(expected, dict):
            raise _damaged(manifest_path, f"it does not describe {file_name}", folder)
        if len(data) != expected.get("bytes"):
            raise _damaged(
                path, f"it holds {len(data):,} bytes where {expected.get('bytes')} were written "
                "(truncated or overwritten)", folder,
            )  # fmt: skip
        if _sha256(data) != expected.get("sha256"):
            raise _damaged(path, "its contents differ from those written (altered)", folder)
        contents[file_name] = data
    contents["fit"] = manifest.get("fit")  # sets written before fit records: None
    return contents


def _read_old_layout(folder, present) -> dict:
    """The three files of a folder written before manifests, each parsed to find damage."""
    import torch

    for file_name in FILES:
        if file_name not in present:
            raise _damaged(os.path.join(folder, file_name), "it is missing", folder)
    contents = {}
    for file_name in FILES:
        path = os.path.join(folder, file_name)
        with open(path, "rb") as handle:
            data = handle.read()
        try:
            if file_name == "history.json":
                json.loads(data)
            else:
                torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        except Exception as error:  # torch raises several kinds for a damaged archive
            message = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise _damaged(path, f"it cannot be read ({message})", folder) from None
        contents[file_name] = data
    return contents


@contextlib.contextmanager
def folder_lock(dirname, accelerator=None):
    """Hold the checkpoint folder for this process; refuse if another live one holds it.

    The lock is the operating system's (``flock`` on the folder's ``.lock`` file), so
    a killed process releases it. Under data-parallel training the main process takes
    it and every process raises what the main process met. None: no checkpoint,
    nothing to hold.

    Raises
    ------
    CheckpointInUse
        Another live process holds the folder (an ``OSError``, ``EBUSY``).
    WriteError
        The folder or its lock file cannot be created or locked.
    """
    if dirname is None:
        yield
        return
    fd, error = None, None
    if _is_main_process(accelerator):
        try:
            fd = _acquire(os.fspath(dirname))
        except OSError as caught:
            error = caught
    if accelerator is not None:  # every process stops, or none
        from accelerate.utils import broadcast_object_list

        (error,) = broadcast_object_list([error])
    if error is not None:
        raise error
    try:
        yield
    finally:
        if fd is not None:
            _unlock(fd)
            os.close(fd)


def _acquire(folder: str) -> int:
    """The locked descriptor of ``folder``'s lock file (created, with the folder, if needed)."""
    path = os.path.join(folder, LOCK)
    try:
        if not os.path.isdir(folder):
            os.makedirs(folder)
            fsync_folder(os.path.dirname(os.path.abspath(folder)))
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise write_error(
            error, path, what="the checkpoint folder's lock", outcome="nothing was written"
        ) from error
    try:
        locked = _try_lock(fd)
    except OSError as error:  # a file system without locks (some network mounts)
        os.close(fd)
        raise write_error(
            error, path, what="a lock on the checkpoint folder", outcome="nothing was written"
        ) from error
    if not locked:
        try:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
        except OSError:  # Windows: the locked byte cannot be read either
            holder = "unknown"
        os.close(fd)
        raise CheckpointInUse(
            errno.EBUSY,
            f"the checkpoint folder {folder!r} is in use by another running fit "
            f"(process {holder}); wait for it to end, or pass another checkpoint "
            "directory (one per model)",
            path,
        )
    with contextlib.suppress(OSError):  # who holds it, for the refusal above; best effort
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, str(os.getpid()).encode())
    return fd


def _try_lock(fd) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _unlock(fd) -> None:
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        return
    fcntl.flock(fd, fcntl.LOCK_UN)
