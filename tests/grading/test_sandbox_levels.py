"""Grading by a user who is not root: the "no root" protection level, for real.

The grader runs as ``nobody`` (uid 65534). So that this works from any checkout (Python may live
under ``/root``, a CI clone in a private temporary folder), the test first makes a private mount
namespace (bubblewrap, as root) in which the folders the grader needs are reachable by other
users; nothing outside that namespace changes. Inside it, the grader makes its own sandbox as an
unprivileged user (user namespaces), or none at all when told so.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from mnist_lab.grading import sandbox

NOBODY = 65534
pytestmark = pytest.mark.skipif(
    not (sandbox.running_as_root() and shutil.which("bwrap") and shutil.which("setpriv")),
    reason="needs root, bubblewrap and setpriv to run a grader as another user",
)

GRADE = """
import json, sys
from pathlib import Path
from mnist_lab.grading.grade import grade_submission
result = grade_submission(submission=Path(sys.argv[1]), tests_dir=Path(sys.argv[2]),
                          results_path=Path(sys.argv[3]), time_limit=2, preload=("numpy",))
print(json.dumps(result.protections))
"""
SUBMISSION = """
import os, time

def probe(what):
    if what == "uid":
        return os.getuid()
    time.sleep(60)

def slow(seconds):
    return seconds
"""
TESTS = """
from otter.test_files import test_case
OK_FORMAT = False
name = "probe"

@test_case(points=1, hidden=False)
def test_uid(probe, slow):
    '''runs as the grader's user'''
    assert probe("uid") == {uid}

@test_case(points=1, hidden=False)
def test_loops(probe, slow):
    '''a loop is stopped'''
    probe("loop")
"""


def _blocked_ancestor(path: Path) -> Path | None:
    for folder in [*reversed(path.parents), path]:
        if folder.is_dir() and not os.stat(folder).st_mode & stat.S_IXOTH:
            return folder
    return None


def _reachable_view(paths: list[Path]) -> list[str]:
    """bwrap arguments: the whole machine, with each folder that other users cannot pass on the
    way to ``paths`` replaced by an open one holding only the way there."""
    argv = ["--dev-bind", "/", "/"]
    done: set[Path] = set()
    for path in paths:
        path = path.resolve()
        while (blocked := _blocked_ancestor(path)) is not None and blocked not in done:
            done.add(blocked)
            child = blocked / path.relative_to(blocked).parts[0]
            argv += ["--perms", "0755", "--tmpfs", str(blocked), "--bind", str(child), str(child)]
    return argv


def run_as_nobody(command: list[str], work: Path, mode: str) -> subprocess.CompletedProcess:
    import mnist_lab

    needed = [Path(sys.prefix), Path(sys.base_prefix), Path(mnist_lab.__file__).parent, work]
    needed += [Path(p) for p in sys.path if p and Path(p).is_dir()]
    argv = ["bwrap", *_reachable_view(needed), "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    argv += ["--setenv", sandbox.MODE_VARIABLE, mode, "--setenv", "HOME", str(work)]
    argv += ["--", "setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    argv += ["--inh-caps=-all", *command]
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture
def work() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="mnist-lab-nobody-"))
    os.chmod(folder, 0o777)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("auto", {"level": "partial", "namespaces": True, "cgroup": "", "separate_user": False}),
        (
            "minimal",
            {"level": "minimal", "namespaces": False, "cgroup": "", "separate_user": False},
        ),
    ],
)
def test_a_grader_without_root_grades_with_the_protections_it_has(
    work: Path, mode: str, expected: dict
) -> None:
    (work / "tests").mkdir()
    (work / "tests" / "probe.py").write_text(textwrap.dedent(TESTS.format(uid=NOBODY)))
    (work / "digits.py").write_text(SUBMISSION)
    results = work / "results.json"
    done = run_as_nobody(
        [sys.executable, "-c", GRADE, str(work / "digits.py"), str(work / "tests"), str(results)],
        work,
        mode,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    protections = json.loads(done.stdout.strip().splitlines()[-1])
    assert {key: protections[key] for key in expected} == expected
    assert any("not root" in reason for reason in protections["missing"])
    data = json.loads(results.read_text())
    outputs = [test["output"] for test in data["tests"]]
    assert outputs[0] == "Passed."
    assert "timed out after 2 s" in outputs[1]
    assert data["extra_data"]["mnist_lab"]["sandbox"]["level"] == expected["level"]


def test_doctor_without_root_says_what_is_missing_and_why(work: Path) -> None:
    done = run_as_nobody([sys.executable, "-m", "mnist_lab.cli", "doctor"], work, "auto")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("Sandbox: partial (namespaces).")
    assert "why not: separate user: the grader is not root" in done.stdout
    assert "[ok] no other process visible" in done.stdout
    assert "[--] another user than the grader" in done.stdout
    assert "a fresh Python (no fork server: it needs every protection)" in done.stdout
