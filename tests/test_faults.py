"""Nothing lost under faults: kill -9 at any moment, a full disk, two writers, damaged files.

Processes are killed for real (SIGKILL) at each step of the checkpoint write and at
moments of training (``checkpoint_job.py``); each killed run is resumed and must end
bit-identical to a run that was never interrupted.
"""

import contextlib
import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from checkpoint_job import X, Y, params
from skorch.callbacks import Callback

import sklearn_capsnet.io.atomic as files
import sklearn_capsnet.training.checkpoint as checkpoint
from sklearn_capsnet import CapsNetClassifier
from sklearn_capsnet.training.folder_lock import CheckpointInUse

JOB = Path(__file__).parent / "checkpoint_job.py"
EPOCHS = 4


@pytest.fixture(scope="module")
def uninterrupted():
    """Probabilities after EPOCHS epochs never interrupted (no checkpoint at all)."""
    return CapsNetClassifier(**params(EPOCHS)).fit(X, Y).predict_proba(X)


def start_job(folder, *hook) -> subprocess.Popen:
    # the job computes with this process's threads, so that its epochs and the ones
    # resumed here are the same float operations (other tests may leave OMP_NUM_THREADS)
    env = {**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())}
    return subprocess.Popen(
        [sys.executable, str(JOB), str(folder), str(EPOCHS), *map(str, hook)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def run_job(folder, *hook) -> int:
    job = start_job(folder, *hook)
    _, stderr = job.communicate(timeout=300)
    assert job.returncode in (0, -signal.SIGKILL), stderr[-2000:]
    return job.returncode


def resume(folder) -> CapsNetClassifier:
    return CapsNetClassifier(**params(EPOCHS), checkpoint=folder).fit(X, Y)


def entries(folder) -> list[str]:
    return sorted(p.name for p in Path(folder).iterdir())


WRITE_STEPS = [
    # (where the write of epoch 2 is killed, the epoch of the set left as the checkpoint)
    ("folder", 1),
    ("params.pt", 1),
    ("inside:optimizer.pt", 1),
    ("history.json", 1),
    ("manifest.json", 1),
    ("renamed", 1),
    ("inside:LATEST", 1),
    ("LATEST", 2),
]


@pytest.mark.parametrize("step, kept", WRITE_STEPS, ids=[s for s, _ in WRITE_STEPS])
def test_a_kill_inside_the_checkpoint_write_leaves_the_last_complete_set(
    tmp_path, uninterrupted, step, kept
):
    assert run_job(tmp_path, step, 2) == -signal.SIGKILL
    assert (tmp_path / "LATEST").read_text() == f"epoch-{kept:06d}"
    clf = resume(tmp_path)
    assert clf.n_iter_ == EPOCHS
    np.testing.assert_array_equal(clf.predict_proba(X), uninterrupted)
    assert entries(tmp_path) == [".lock", "LATEST", f"epoch-{EPOCHS:06d}"]  # stale sets gone


def test_what_a_killed_write_left_is_removed_by_the_next_fit(tmp_path):
    assert run_job(tmp_path, "inside:params.pt", 2) == -signal.SIGKILL
    assert any(name.startswith(".tmp-") for name in entries(tmp_path))
    CapsNetClassifier(**params(1), checkpoint=tmp_path).fit(X, Y)  # nothing left to train
    assert entries(tmp_path) == [".lock", "LATEST", "epoch-000001"]


def test_writing_the_current_epoch_again_never_removes_the_checkpoint(tmp_path, monkeypatch):
    CapsNetClassifier(**params(1), checkpoint=tmp_path).fit(X, Y)
    monkeypatch.setattr(checkpoint, "write_durably", FullDisk("optimizer.pt", 1))
    fresh = CapsNetClassifier(**params(1), checkpoint=tmp_path)  # partial_fit: no resume
    with pytest.raises(OSError, match="the checkpoint of epoch 1 in .* is intact"):
        fresh.partial_fit(X, Y)
    assert entries(tmp_path) == [".lock", "LATEST", "epoch-000001"]
    monkeypatch.undo()
    fresh.partial_fit(X, Y)
    (name,) = [e for e in entries(tmp_path) if e.startswith("epoch-")]
    assert (tmp_path / "LATEST").read_text() == name == f"epoch-000001.{os.getpid()}"


@pytest.mark.parametrize("epoch, after", [(1, 0.0), (1, 0.1), (2, 0.05), (3, 0.05)])
def test_a_kill_at_any_moment_of_training_resumes_to_the_same_model(
    tmp_path, uninterrupted, epoch, after
):
    job = start_job(tmp_path)
    while job.stdout.readline().strip() != f"epoch {epoch}":  # that epoch trained
        assert job.poll() is None, job.stderr.read()[-2000:]
    time.sleep(after)
    job.send_signal(signal.SIGKILL)
    job.communicate(timeout=60)
    assert job.returncode == -signal.SIGKILL  # killed before the end
    latest = tmp_path / "LATEST"  # none yet, empty, or a complete epoch's set
    sets = ["", *(f"epoch-{k:06d}" for k in range(1, EPOCHS + 1))]
    assert not latest.exists() or latest.read_text() in sets
    np.testing.assert_array_equal(resume(tmp_path).predict_proba(X), uninterrupted)


class FullDisk:
    """``write_durably`` that runs out of space writing ``name`` of ``epoch``'s set."""

    def __init__(self, name, epoch):
        self.name, self.epoch, self.write = name, epoch, checkpoint.write_durably

    def __call__(self, path, data):
        if os.path.basename(path) == self.name and path.endswith(
            f"-{self.epoch}{os.sep}{self.name}"
        ):
            with open(path, "xb") as handle:
                handle.write(data[:100])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
        self.write(path, data)


def test_a_full_disk_stops_fit_loudly_and_keeps_the_last_set(tmp_path, uninterrupted, monkeypatch):
    monkeypatch.setattr(checkpoint, "write_durably", FullDisk("optimizer.pt", 2))
    clf = CapsNetClassifier(**params(EPOCHS), checkpoint=tmp_path)
    with pytest.raises(
        OSError, match=r"could not write the checkpoint of epoch 2 \(No space"
    ) as error:
        clf.fit(X, Y)
    assert isinstance(error.value, files.WriteError) and error.value.errno == errno.ENOSPC
    assert error.value.filename.endswith("optimizer.pt")
    assert "the checkpoint of epoch 1 in" in str(error.value) and "is intact" in str(error.value)
    assert not hasattr(clf, "net_")  # a failed fit leaves the estimator as it was
    assert entries(tmp_path) == [".lock", "LATEST", "epoch-000001"]  # no half-written set
    monkeypatch.undo()  # space freed: the next fit resumes after epoch 1
    np.testing.assert_array_equal(resume(tmp_path).predict_proba(X), uninterrupted)


@pytest.mark.parametrize(
    "code, advice",
    [(errno.EACCES, "write where you have permission"), (errno.EROFS, "not read-only")],
)
def test_a_checkpoint_that_cannot_be_written_says_why(tmp_path, monkeypatch, code, advice):
    def refuse(path, data):
        raise OSError(code, os.strerror(code), path)

    monkeypatch.setattr(checkpoint, "write_durably", refuse)
    with pytest.raises(OSError, match=advice) as error:
        CapsNetClassifier(**params(2), checkpoint=tmp_path).fit(X, Y)
    assert error.value.errno == code and "held no checkpoint yet" in str(error.value)


def test_a_second_process_fitting_into_a_folder_in_use_is_refused(tmp_path, uninterrupted):
    job = start_job(tmp_path, "wait", 1)
    try:
        lines = [job.stdout.readline().strip() for _ in range(3)]
        assert lines == ["fitting", "epoch 1", "waiting"]  # epoch 1 written, folder held
        second = CapsNetClassifier(**params(EPOCHS), checkpoint=tmp_path)
        with pytest.raises(CheckpointInUse, match=f"process {job.pid}\\)"):
            second.fit(X, Y)
        assert not hasattr(second, "net_")
    finally:
        job.kill()  # kill -9: the operating system releases its lock
        job.communicate(timeout=60)
    np.testing.assert_array_equal(second.fit(X, Y).predict_proba(X), uninterrupted)


def test_a_folder_whose_latest_was_deleted_is_refused_not_emptied(two_epochs):
    (two_epochs / "LATEST").unlink()
    with pytest.raises(ValueError, match="holds epoch-000002 but no LATEST file.*write that name"):
        CapsNetClassifier(**params(3), checkpoint=two_epochs).fit(X, Y)
    assert (two_epochs / "epoch-000002" / "params.pt").exists()
    (two_epochs / "LATEST").write_text("epoch-000002")  # as the message says
    assert CapsNetClassifier(**params(3), checkpoint=two_epochs).fit(X, Y).n_iter_ == 3


def test_a_first_set_never_made_current_is_removed_by_the_next_fit(tmp_path):
    assert run_job(tmp_path, "renamed", 1) == -signal.SIGKILL
    assert (tmp_path / "LATEST").read_text() == ""  # no set yet, though epoch-000001 is there
    assert CapsNetClassifier(**params(1), checkpoint=tmp_path).fit(X, Y).n_iter_ == 1
    assert entries(tmp_path) == [".lock", "LATEST", "epoch-000001"]


def test_a_lock_is_released_when_fit_fails(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoint, "write_durably", FullDisk("params.pt", 1))
    with pytest.raises(OSError):
        CapsNetClassifier(**params(1), checkpoint=tmp_path).fit(X, Y)
    monkeypatch.undo()
    assert CapsNetClassifier(**params(1), checkpoint=tmp_path).fit(X, Y).n_iter_ == 1


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="reads file names of fds")
def test_every_file_and_folder_is_flushed_before_the_step_that_relies_on_it(tmp_path, monkeypatch):
    events = []
    fsync, rename, replace = os.fsync, os.rename, os.replace

    def logged_fsync(fd):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        fsync(fd)

    def logged_folder(folder):
        events.append(("fsync", os.path.abspath(folder)))

    monkeypatch.setattr(os, "fsync", logged_fsync)
    monkeypatch.setattr(checkpoint, "fsync_folder", logged_folder)
    monkeypatch.setattr(files, "fsync_folder", logged_folder)
    monkeypatch.setattr(os, "rename", lambda a, b: (events.append(("rename", b)), rename(a, b)))
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append(("move", a)), replace(a, b)))
    CapsNetClassifier(**params(1), checkpoint=tmp_path).fit(X, Y)

    def first(kind, path):
        return next(i for i, (k, p) in enumerate(events) if k == kind and p.startswith(path))

    folder, latest = str(tmp_path), str(tmp_path / ".LATEST.")
    set_renamed = first("rename", f"{folder}/epoch-000001")
    temporary = next(p for k, p in events if k == "fsync" and "/.tmp-" in p)
    temporary = temporary[: temporary.index("/.tmp-") + 1] + temporary.split("/")[-2]
    for name in ("params.pt", "optimizer.pt", "history.json", "manifest.json"):
        assert first("fsync", f"{temporary}/{name}") < set_renamed, name
    assert max(i for i, (k, p) in enumerate(events) if p == temporary) < set_renamed
    folder_flushed = next(
        i for i, (k, p) in enumerate(events) if (k, p) == ("fsync", folder) and i > set_renamed
    )
    moves = [i for i, (k, p) in enumerate(events) if k == "move" and p.startswith(latest)]
    assert len(moves) == 2 and folder_flushed < moves[1]  # the set is there before LATEST
    for move in moves:  # each LATEST flushed before it replaces the last, the folder after
        assert events[move - 1][0] == "fsync" and events[move - 1][1].startswith(latest)
        assert events[move + 1] == ("fsync", folder)


@pytest.fixture
def two_epochs(tmp_path):
    CapsNetClassifier(**params(2), checkpoint=tmp_path).fit(X, Y)
    return tmp_path


def flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "damage, file_name, match",
    [
        (
            lambda p: p.write_bytes(p.read_bytes()[:-50]),
            "optimizer.pt",
            r"holds [\d,]+ bytes where",
        ),
        (flip_a_byte, "params.pt", r"differ from those written \(altered\)"),
        (lambda p: p.unlink(), "history.json", "it is missing"),
        (lambda p: p.write_text("{"), "manifest.json", "not the manifest written with it"),
    ],
    ids=["truncated", "bit flipped", "missing", "manifest"],
)
def test_a_damaged_checkpoint_file_is_named_and_nothing_is_loaded(
    two_epochs, damage, file_name, match
):
    path = two_epochs / "epoch-000002" / file_name
    damage(path)
    clf = CapsNetClassifier(**params(3), checkpoint=two_epochs)
    with pytest.raises(ValueError, match=match) as error:
        clf.fit(X, Y)
    message = str(error.value)
    assert repr(str(path)) in message and "Nothing was loaded" in message
    assert f"Delete the folder {str(two_epochs)!r}" in message
    assert not hasattr(clf, "net_") and (two_epochs / "epoch-000002").exists()


def test_a_latest_naming_a_missing_set_is_named(two_epochs):
    (two_epochs / "LATEST").write_text("epoch-000007")
    with pytest.raises(ValueError, match="LATEST' is damaged: it names 'epoch-000007'"):
        CapsNetClassifier(**params(3), checkpoint=two_epochs).fit(X, Y)


def old_layout(folder: Path, epochs: int) -> None:
    """A folder as sklearn-capsnet wrote it before sets: three files at the top."""
    clf = CapsNetClassifier(**params(epochs)).fit(X, Y)
    clf.net_.save_params(
        f_params=str(folder / "params.pt"),
        f_optimizer=str(folder / "optimizer.pt"),
        f_history=str(folder / "history.json"),
    )


def test_a_folder_of_the_former_layout_resumes_and_moves_to_sets(tmp_path, uninterrupted):
    old_layout(tmp_path, 2)
    with (tmp_path / "history.json").open() as handle:
        assert len(json.load(handle)) == 2
    clf = resume(tmp_path)
    np.testing.assert_array_equal(clf.predict_proba(X), uninterrupted)
    assert entries(tmp_path) == [".lock", "LATEST", f"epoch-{EPOCHS:06d}"]


def test_a_damaged_file_of_the_former_layout_is_named(tmp_path):
    old_layout(tmp_path, 2)
    path = tmp_path / "params.pt"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ValueError, match=f"{str(path)!r} is damaged: it cannot be read"):
        resume(tmp_path)
    (tmp_path / "history.json").unlink()
    with pytest.raises(ValueError, match="history.json' is damaged: it is missing"):
        resume(tmp_path)


# -- model files -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def models():
    return [CapsNetClassifier(**params(n)).fit(X, Y) for n in (1, 2)]


def test_a_failed_save_keeps_the_earlier_file_and_names_the_path(tmp_path, models, monkeypatch):
    path = tmp_path / "model.safetensors"
    models[0].save(path)

    def half_then_full(target, data, new=True):
        with open(target, "wb") as handle:
            handle.write(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), target)

    monkeypatch.setattr(files, "write_durably", half_then_full)
    with pytest.raises(OSError, match=r"could not write the model \(No space left") as error:
        models[1].save(path)
    assert error.value.filename == str(path) and "any earlier file at that path is intact" in str(
        error.value
    )
    monkeypatch.undo()
    assert entries(tmp_path) == ["model.safetensors"]  # no temporary file left
    loaded = CapsNetClassifier.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), models[0].predict_proba(X))


def test_saving_into_a_missing_folder_says_so(tmp_path, models):
    with pytest.raises(OSError, match="create the folder first") as error:
        models[0].save(tmp_path / "missing" / "model.safetensors")
    assert error.value.errno == errno.ENOENT


@pytest.mark.parametrize("damage", ["truncated", "bit flipped"])
def test_a_damaged_model_file_is_named_and_nothing_is_loaded(tmp_path, models, damage):
    path = tmp_path / "model.safetensors"
    models[0].save(path)
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:-64])
    else:
        flip_a_byte(path)
    with pytest.raises(ValueError, match="Nothing was loaded; use a copy") as error:
        CapsNetClassifier.load(path)
    assert repr(str(path)) in str(error.value)


# -- a real small file system (root only: mounts a tmpfs) --------------------------------------


@pytest.fixture
def tiny_disk(tmp_path):
    """A 2 MB tmpfs, where the machine lets this process mount one."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(tmp_path)], capture_output=True
    )
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield tmp_path
    finally:
        subprocess.run(["umount", "-l", str(tmp_path)], check=False)


def fill(folder: Path) -> None:
    """Write zeros into ``folder`` until its file system is full."""
    with open(folder / "ballast", "wb") as handle:
        with contextlib.suppress(OSError):
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()


class FillTheDisk(Callback):
    """After ``epoch``'s training, fill the file system the checkpoint is written to."""

    def __init__(self, folder, epoch):
        self.folder, self.epoch = Path(folder), epoch

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.epoch:
            fill(self.folder)


def test_a_real_full_disk_stops_fit_and_save_and_keeps_what_was_written(tiny_disk, uninterrupted):
    folder = tiny_disk / "checkpoint"
    filler = FillTheDisk(tiny_disk, 2)
    clf = CapsNetClassifier(**params(EPOCHS), checkpoint=folder, callbacks=[filler])
    with pytest.raises(OSError, match="No space left on device") as error:
        clf.fit(X, Y)
    assert error.value.errno == errno.ENOSPC and str(folder) in error.value.filename
    assert (folder / "LATEST").read_text() == "epoch-000001"
    (tiny_disk / "ballast").unlink()
    np.testing.assert_array_equal(resume(folder).predict_proba(X), uninterrupted)

    model = tiny_disk / "model.safetensors"
    first, second = (CapsNetClassifier(**params(n)).fit(X, Y) for n in (1, 2))
    first.save(model)
    fill(tiny_disk)
    with pytest.raises(OSError, match="No space left on device"):
        second.save(model)
    np.testing.assert_array_equal(
        CapsNetClassifier.load(model).predict_proba(X), first.predict_proba(X)
    )
    assert sorted(p.name for p in tiny_disk.iterdir() if p.name.startswith(".")) == []


def test_a_read_only_file_system_is_named_before_training(tiny_disk):
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_disk)], check=True)
    clf = CapsNetClassifier(**params(1), checkpoint=tiny_disk / "checkpoint")
    with pytest.raises(OSError, match="not read-only") as error:
        clf.fit(X, Y)
    assert error.value.errno == errno.EROFS and not hasattr(clf, "net_")
