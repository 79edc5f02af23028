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
killed write left behind. A write that fails raises a
:class:`~sklearn_capsnet.io.atomic.WriteError`
(an ``OSError``) during that epoch: the previous set stays the checkpoint. Resuming
checks every file against the manifest before loading any, and names a damaged one.

Folders written before this layout (the three files at the top) are still read.
A folder whose ``LATEST`` was deleted while it holds sets is refused, never emptied.
Under data-parallel training only the main process writes, locks and cleans up; all
processes read the checkpoint, and all are refused when the folder is in use.
"""

import contextlib
import hashlib
import io
import json
import os
import shutil

from skorch.callbacks import Callback

from ..io.atomic import fsync_folder, write_atomically, write_durably, write_error
from .fit_record import differences as fit_differences
from .folder_lock import is_main_process

__all__ = ["AtomicCheckpoint", "resume"]

FILES = ("params.pt", "optimizer.pt", "history.json")
MANIFEST, POINTER = "manifest.json", "LATEST"
SET_PREFIX, TEMPORARY_PREFIX = "epoch-", ".tmp-"


def _reached(step: str, epoch: int) -> None:
    """A point of the write protocol of ``epoch``'s set; tests replace this to kill the
    process there (``tests/checkpoint_job.py``)."""


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
    if is_main_process(getattr(net, "accelerator", None)):
        _remove_stale(folder, name)
    if contents is None:
        return
    written, now = contents.get("fit"), getattr(net, "checkpoint_fit", None)
    said = fit_differences(written, now) if isinstance(written, dict) and now else []
    if said:
        raise ValueError(
            f"the checkpoint in {folder!r} was written by another fit: "
            f"{'; '.join(said)}. A checkpoint resumes only the fit that wrote it: "
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
