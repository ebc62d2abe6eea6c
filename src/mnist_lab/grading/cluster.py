"""Grading a batch on a Dask cluster (``mnist-lab grade ... --cluster tcp://HOST:PORT``).

The batch runs here as usual (finding submissions, resuming, gradebooks, feedback, the report);
only the grading of each submission moves: its bytes and the test files go to a worker of an
existing Dask scheduler, which grades them with ``grade.grade_submission`` (the same sandbox,
limits and fork server as a local batch) and sends back the results as data. Workers need only
``pip install "mnist-lab[cluster]"`` and whatever lets them sandbox (root, bubblewrap).

A worker that dies while grading is replaced by the scheduler and the submission retried on
another, up to the scheduler's ``distributed.scheduler.allowed-failures``; after that the
student's row says so, and the next run of the batch grades it again.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from mnist_lab import assignment
from mnist_lab.errors import UserError
from mnist_lab.grading import grade, sandbox
from mnist_lab.grading.config import GradingConfig

CONNECT_SECONDS = 10
INSTALL_HINT = 'pip install "mnist-lab[cluster]"'


class ClusterError(UserError):
    """The cluster cannot be used: Dask missing, the scheduler unreachable, no workers."""


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise ClusterError(f"--cluster needs Dask's distributed package: {INSTALL_HINT}") from None
    return distributed


def ordered_test_files(tests_dir: Path) -> dict[str, bytes]:
    """The test files to send, named ``NN-function.py`` so that the copy keeps the assignment's
    order (the package's own tests take theirs from the solution, which workers do not get)."""
    order = [spec.name for spec in grade.load_assignment(tests_dir).functions]
    files = assignment.test_files(tests_dir)
    return {
        f"{number:02d}-{name}.py": files[name].read_bytes()
        for number, name in enumerate(order, start=1)
    }


class ClusterGrader:
    """Sends submissions to the workers of one Dask scheduler; one per batch."""

    def __init__(
        self, address: str, *, tests_dir: Path, config: GradingConfig, fork_server: bool
    ) -> None:
        distributed = _distributed()
        self.address = address
        try:
            self.client = distributed.Client(address, timeout=f"{CONNECT_SECONDS}s")
        except (OSError, TimeoutError, ValueError) as error:
            raise ClusterError(
                f"--cluster {address}: cannot reach a Dask scheduler there ({error})"
            ) from None
        self.config = config.to_dict()
        self.fork_server = fork_server
        try:
            tests = ordered_test_files(tests_dir)
            # Sent once to every worker, not with each submission.
            [self.tests] = self.client.scatter([tests], broadcast=True, hash=False)
        except BaseException:
            self.client.close()
            raise

    def threads(self) -> int:
        return sum(self.client.nthreads().values())

    def grade(self, submission: Path, *, cancel: threading.Event) -> grade.GradingResult:
        """Grade ``submission`` on a worker; a worker that died too often is a grader error."""
        distributed = _distributed()
        started = time.monotonic()
        future = self.client.submit(
            grade_on_worker,
            submission.name,
            submission.read_bytes(),
            self.tests,
            self.config,
            self.fork_server,
            key=f"mnist-lab-grade-{uuid.uuid4().hex}",
            pure=False,
        )
        try:
            while not future.done():
                if cancel.is_set():
                    raise sandbox.GradingCancelled()
                time.sleep(0.2)
            data = future.result()
        except distributed.KilledWorker as error:
            why = (
                f"the cluster's workers died while grading it, more often than the scheduler "
                f"allows ({error})"
            )
            return grade.grader_error_result(why=why, submission=submission.name, started=started)
        finally:
            future.cancel()
        return grade.GradingResult.from_dict(data, submission=submission.name)

    def close(self) -> None:
        self.client.close()


# --- on the worker ------------------------------------------------------------------------------

_tests_folders: dict[str, Path] = {}
_tests_lock = threading.Lock()


def _tests_folder(files: dict[str, bytes]) -> Path:
    """The test files written once per worker process (by their content's hash)."""
    digest = hashlib.sha256()
    for name, data in sorted(files.items()):
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    key = digest.hexdigest()
    with _tests_lock:
        folder = _tests_folders.get(key)
        if folder is None or not folder.is_dir():
            folder = Path(tempfile.mkdtemp(prefix="mnist-lab-tests-"))
            for name, data in files.items():
                path = folder / name
                if folder not in path.resolve().parents:
                    raise ValueError(f"a test file's name leaves its folder: {name!r}")
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
            _tests_folders[key] = folder
    return folder


def grade_on_worker(
    name: str, data: bytes, tests: dict[str, bytes], config: dict[str, Any], fork_server: bool
) -> dict[str, Any]:
    """Runs on a Dask worker: grade one submission's bytes; its results as data."""
    safe_name = Path(name).name
    if safe_name != name or Path(name).suffix not in (".py", ".ipynb"):
        raise ValueError(f"not a submission file name: {name!r}")
    folder = Path(tempfile.mkdtemp(prefix="mnist-lab-submission-"))
    try:
        submission = folder / safe_name
        submission.write_bytes(data)
        result = grade.grade_submission(
            submission=submission,
            tests_dir=_tests_folder(tests),
            config=GradingConfig(**config),
            fork_server=fork_server,
        )
        return result.to_dict()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
