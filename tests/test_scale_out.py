"""Scaling out: data-parallel training through accelerate, search on a Dask cluster."""

import json
import os
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV

from sklearn_capsnet import CapsNetClassifier
from sklearn_capsnet._testing import tiny

HERE = Path(__file__).parent


@pytest.mark.slow
def test_two_cpu_processes_train_one_shared_model_and_only_the_main_one_writes(tmp_path):
    pytest.importorskip("accelerate")
    from accelerate_job import PARAMS, digits_split

    # `accelerate launch --cpu --num_processes 2` starts a single process unless MPI is set
    # up (accelerate 1.x); `--multi_gpu` on a machine without GPUs starts two CPU
    # processes joined by gloo, which the job checks.
    command = [
        sys.executable, "-m", "accelerate.commands.launch",
        "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
        "--mixed_precision", "no", "--dynamo_backend", "no",
        str(HERE / "accelerate_job.py"), str(tmp_path),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{i}.json").read_text()) for i in range(2)]
    assert [r["num_processes"] for r in ranks] == [2, 2]
    assert {r["backend"] for r in ranks} == {"gloo"}
    # one shared model: gradients were averaged, so the weights are the same everywhere
    assert ranks[0]["weights_sha256"] == ranks[1]["weights_sha256"]
    # and the running statistics of a front end's BatchNorm too
    assert ranks[0]["front_end_model_sha256"] == ranks[1]["front_end_model_sha256"]
    # each process saw half of every epoch: 1,347 rows in batches of 32 -> 43 -> 21 each
    assert [r["train_batches_per_epoch"] for r in ranks] == [21, 21]
    # only the main process wrote files
    assert [r["wrote_model"] for r in ranks] == [True, False]
    assert (tmp_path / "model.safetensors").exists()
    checkpoint = tmp_path / "checkpoint"
    assert (checkpoint / "LATEST").read_text() == "epoch-000006"  # one complete set
    assert sorted(p.name for p in checkpoint.iterdir()) == [".lock", "LATEST", "epoch-000006"]
    # the same kind of model as training in one process (same epochs, twice the batch)
    X_train, X_test, y_train, y_test = digits_split()
    single = CapsNetClassifier(**{**PARAMS, "batch_size": 64}, random_state=0)
    single_accuracy = single.fit(X_train, y_train).score(X_test, y_test)
    assert abs(ranks[0]["accuracy"] - single_accuracy) <= 0.05
    assert ranks[0]["accuracy"] > 0.8
    loaded = CapsNetClassifier.load(tmp_path / "model.safetensors")
    assert loaded.score(X_test, y_test) == pytest.approx(ranks[0]["accuracy"])


@pytest.mark.slow
def test_grid_search_runs_on_a_dask_cluster_with_the_same_result():
    distributed = pytest.importorskip("distributed")
    X, y = load_digits(return_X_y=True)
    X, y = X[:300], y[:300]
    small = tiny(max_epochs=3)
    grid = {"routing_iterations": [1, 3], "lr": [1e-3, 3e-3]}

    def search():
        return GridSearchCV(CapsNetClassifier(**small, random_state=0), grid, cv=2, n_jobs=-1)

    environment = dict(os.environ)  # dask sets OMP_NUM_THREADS=1 here for its workers
    try:
        with (
            distributed.LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            distributed.Client(cluster) as client,
            distributed.get_task_stream(client) as tasks,
            joblib.parallel_config(backend="dask"),
        ):
            remote = search().fit(X, y)
    finally:
        os.environ.clear()
        os.environ.update(environment)
    workers = {task["worker"] for task in tasks.data}
    assert len(workers) == 2  # the fits ran on both workers of the cluster
    local = search().set_params(n_jobs=1).fit(X, y)
    assert remote.best_params_ == local.best_params_
    np.testing.assert_allclose(
        remote.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"]
    )
