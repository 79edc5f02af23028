"""One process writes a checkpoint folder at a time: the operating system's lock on it.

Why not the ``filelock`` package (which torch installs): its lock file's contents are its
own business across its versions, while the refusal here names the process that holds the
folder, read from that file; and a folder that cannot be created or locked (a full disk, a
file system without locks) must raise the same ``WriteError`` as every other checkpoint
write. What remains is ``flock`` (``msvcrt.locking`` on Windows) on one descriptor.
"""

import contextlib
import errno
import os

from ..io.atomic import fsync_folder, write_error

__all__ = ["CheckpointInUse", "LOCK", "folder_lock", "is_main_process"]

LOCK = ".lock"  # the lock file inside the checkpoint folder


class CheckpointInUse(OSError):
    """Another live process is writing checkpoints into the same folder."""


def is_main_process(accelerator) -> bool:
    return accelerator is None or accelerator.is_main_process


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
    if is_main_process(accelerator):
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
