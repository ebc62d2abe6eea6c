"""Grading on a Dask cluster (``--cluster``): a real LocalCluster of separate worker processes
(each with its own fork server and sandboxes) against a local batch of the same course.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import dask
import distributed
import pytest

from mnist_lab.grading.batch import Outcome, grade_batch
from mnist_lab.grading.cluster import ClusterError

from .mistake_patches import mistake_source
from .test_batch import course, reference, stubs

pytestmark = pytest.mark.slow
MNIST_LAB = [sys.executable, "-m", "mnist_lab"]


def students() -> dict[str, str]:
    return {
        "ada": reference(),
        "bob": stubs(),
        "cy": mistake_source("normalize_no_scaling"),
        "dee": mistake_source("flatten_column_major"),
    }


def gradebook(out: Path) -> list[dict[str, str]]:
    """gradebook.csv's rows, but where each file came from (the two courses' folders)."""
    with (out / "gradebook.csv").open(newline="", encoding="utf-8") as stream:
        return [{k: v for k, v in row.items() if k != "origin"} for row in csv.DictReader(stream)]


def case_results(out: Path) -> dict[str, list]:
    """Every case's name, score and feedback per student (timings left out)."""
    found = {}
    for path in sorted((out / "results").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        cases = [(c["name"], c["score"], c["output"]) for c in data["tests"]]
        found[path.stem] = [data["score"], cases]
    return found


@pytest.fixture(scope="module")
def local_batch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("local")
    out = folder / "out"
    grade_batch(inputs=[course(folder / "course", students())], out_dir=out, jobs=2)
    return out


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as local:
        yield local


def worker_pids(client: distributed.Client) -> dict[str, int]:
    return client.run(os.getpid)


def kill_a_busy_worker(address: str, done: threading.Event) -> list[str]:
    """Wait until a worker is grading, then SIGKILL its process; the workers killed."""
    killed = []
    with distributed.Client(address) as client:
        while not done.is_set() and not killed:
            busy = [worker for worker, tasks in client.processing().items() if tasks]
            if busy:
                os.kill(worker_pids(client)[busy[0]], signal.SIGKILL)
                killed.append(busy[0])
            time.sleep(0.2)
    return killed


def test_a_cluster_writes_the_same_gradebook_as_a_local_batch(
    tmp_path: Path, cluster, local_batch: Path
) -> None:
    out = tmp_path / "out"
    result = grade_batch(
        inputs=[course(tmp_path / "course", students())],
        out_dir=out,
        cluster=cluster.scheduler_address,
    )
    assert result.count(Outcome.GRADED) == 4
    assert gradebook(out) == gradebook(local_batch)
    assert case_results(out) == case_results(local_batch)
    assert (out / "report.html").is_file()
    assert sorted(p.name for p in (out / "feedback").iterdir()) == sorted(
        p.name for p in (local_batch / "feedback").iterdir()
    )
    rerun = grade_batch(
        inputs=[tmp_path / "course"], out_dir=out, cluster=cluster.scheduler_address
    )
    assert rerun.count(Outcome.REUSED) == 4  # resumable as a local batch


def test_a_worker_killed_mid_batch_is_retried_elsewhere(
    tmp_path: Path, cluster, local_batch: Path
) -> None:
    done = threading.Event()
    killed: list[str] = []
    killer = threading.Thread(
        target=lambda: killed.extend(kill_a_busy_worker(cluster.scheduler_address, done))
    )
    killer.start()
    try:
        out = tmp_path / "out"
        result = grade_batch(
            inputs=[course(tmp_path / "course", students())],
            out_dir=out,
            cluster=cluster.scheduler_address,
        )
    finally:
        done.set()
        killer.join()
    assert len(killed) == 1
    assert result.count(Outcome.GRADED) == 4, [o.message for o in result.outcomes]
    assert gradebook(out) == gradebook(local_batch)


def test_a_submission_whose_workers_keep_dying_gets_a_row_saying_why(tmp_path: Path) -> None:
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 0}),
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as local,
    ):
        done = threading.Event()
        killer = threading.Thread(target=kill_a_busy_worker, args=(local.scheduler_address, done))
        killer.start()
        try:
            out = tmp_path / "out"
            result = grade_batch(
                inputs=[course(tmp_path / "course", {"ada": reference()})],
                out_dir=out,
                cluster=local.scheduler_address,
            )
        finally:
            done.set()
            killer.join()
    [outcome] = result.outcomes
    assert outcome.status is Outcome.ERROR
    assert "workers died while grading it" in outcome.message
    assert "will be regraded" in outcome.message


def test_an_unreachable_scheduler_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(ClusterError, match="cannot reach a Dask scheduler"):
        grade_batch(
            inputs=[course(tmp_path / "course", {"ada": reference()})],
            out_dir=out,
            cluster="tcp://127.0.0.1:9",
        )
    assert not out.exists()


def test_the_command_line_names_the_unreachable_scheduler(tmp_path: Path) -> None:
    course(tmp_path / "course", {"ada": reference()})
    done = subprocess.run(
        [*MNIST_LAB, "grade", "course", "--out", "out", "--cluster", "tcp://127.0.0.1:9"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "--cluster tcp://127.0.0.1:9: cannot reach a Dask scheduler there" in done.stderr
    assert not (tmp_path / "out").exists()
