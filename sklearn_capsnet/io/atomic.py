"""Writing files so that a crash or a full disk loses nothing already saved.

A file is written under a temporary name in its own folder (``.<name>.<random>``),
flushed to the disk, then renamed over its final name (atomic on POSIX and Windows),
and the folder is flushed so the rename itself survives a power cut. A process killed
before the rename leaves that temporary file, and the earlier file, behind. A write
that fails (disk full, no permission, read-only file system, missing folder) raises
:class:`WriteError`, an ``OSError`` that names the path and the cause; whatever was at
the final name before is untouched, and the temporary file is removed.
"""

import errno as errno_codes
import os
import tempfile

__all__ = ["WriteError", "fsync_folder", "write_atomically", "write_durably"]


class WriteError(OSError):
    """A file could not be written; ``filename`` is its path, ``strerror`` the sentence
    that says what failed, why and what to do."""


def fsync_folder(folder) -> None:
    """Flush a folder's entries (new names, renames) to the disk, where the OS allows."""
    if os.name == "nt":  # Windows cannot open folders; NTFS journals renames itself
        return
    fd = os.open(os.fspath(folder), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durably(path, data: bytes, *, new: bool = True) -> None:
    """Write ``data`` to the file ``path`` and flush it to the disk.

    ``new``: the file must not exist yet (and is removed again if the write fails);
    otherwise it is overwritten. Raises the plain ``OSError`` of the failing call (the
    caller says what it was writing).
    """
    handle = open(path, "xb" if new else "wb")
    try:
        with handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError:
        if new:
            _remove_quietly(path)
        raise


def write_atomically(path, data: bytes, *, what: str, outcome: str) -> None:
    """Replace ``path`` by a file holding ``data``, all at once or not at all.

    Parameters
    ----------
    path : str or os.PathLike
    data : bytes
    what : str
        What is being written, for the error ("the model").
    outcome : str
        What a failure leaves, for the error ("any earlier file at that path is intact").

    Raises
    ------
    WriteError
        Naming ``path``, the cause, and what to do.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    temporary = None
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", dir=folder)
        os.close(handle)
        write_durably(temporary, data, new=False)
        os.replace(temporary, path)
    except OSError as error:
        if temporary is not None:
            _remove_quietly(temporary)
        raise write_error(error, path, what=what, outcome=outcome) from error
    try:
        fsync_folder(folder)
    except OSError as error:
        raise write_error(
            error, path, what=what, outcome="the new file is in place but may not survive a "
            "power cut",
        ) from error  # fmt: skip


def write_error(error: OSError, path, *, what: str, outcome: str) -> WriteError:
    """A :class:`WriteError` for ``path`` from the ``OSError`` that stopped the write."""
    cause = error.strerror or str(error)
    code = error.errno if error.errno is not None else errno_codes.EIO
    advice = {
        errno_codes.ENOSPC: "free some space or write elsewhere",
        errno_codes.EDQUOT: "free some space or write elsewhere",
        errno_codes.EACCES: "write where you have permission",
        errno_codes.EPERM: "write where you have permission",
        errno_codes.EROFS: "write to a file system that is not read-only",
        errno_codes.ENOENT: "create the folder first or write elsewhere",
    }.get(code, "check the disk and try again")
    return WriteError(
        code, f"could not write {what} ({cause}); {outcome}: {advice}", os.fspath(path)
    )


def _remove_quietly(path) -> None:
    try:
        os.remove(path)
    except OSError:
        pass
