"""The fork server: sandboxes forked from one warm process keep every protection of a freshly
started one, and nothing of one submission reaches the next.

Tiny submissions with NumPy preloaded, except the one that poisons TensorFlow and Keras before
the reference is graded from the same server.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from mnist_lab.grading import forkserver, sandbox
from mnist_lab.grading.grade import grade_submission

from .test_sandbox import grade, leaked, needs_namespaces, needs_root, write

pytestmark = [needs_root, needs_namespaces]

WHO_AM_I = """
    import os
    import socket

    def status(name):
        for line in open("/proc/self/status"):
            if line.startswith(name + ":"):
                return line.split(":", 1)[1].strip()

    def descriptors():
        kinds = []
        for fd in os.listdir("/proc/self/fd"):
            try:
                kinds.append(os.readlink(f"/proc/self/fd/{fd}").split(":")[0])
            except OSError:
                pass  # the listing's own
        return sorted(kinds)

    def probe(what):
        processes = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                processes.append(open(f"/proc/{pid}/cmdline", "rb").read()[:60].decode())
            except OSError:
                pass
        try:
            socket.create_connection(("10.0.0.1", 80), timeout=1)
            network = "reached"
        except OSError as error:
            network = type(error).__name__
        return {
            "ids": [os.getuid(), os.geteuid(), os.getgid(), os.getgroups()],
            "capabilities": [status(n) for n in ("CapInh", "CapPrm", "CapEff", "CapAmb")],
            "no_new_privs": status("NoNewPrivs"),
            "pid": os.getpid(),
            "zygote_is_pid_1": open("/proc/1/cmdline", "rb").read().startswith(b"/"),
            "processes": len(processes),
            "tmp": sorted(os.listdir("/tmp")) + sorted(os.listdir("/dev/shm")),
            "home": sorted(os.listdir(".")),
            "network": network,
            "mounts": [line.split()[1] for line in open("/proc/self/mounts")],
            "descriptors": descriptors(),
        }

    def slow(seconds):
        return seconds
"""


def probe_result(tmp_path: Path, **options) -> dict:
    body = "import json\nassert False, 'DATA' + json.dumps(probe(0))"
    result = grade(tmp_path, {"who": body}, source=WHO_AM_I, **options)
    assert result.protections["fork_server"] is options.get("fork_server", True)
    return json.loads(leaked(result).split("DATA", 1)[1])


def test_a_forked_sandbox_has_every_protection_of_a_fresh_one(tmp_path: Path) -> None:
    forked = probe_result(tmp_path / "forked")
    fresh = probe_result(tmp_path / "fresh", fork_server=False)
    uid, euid, gid, groups = forked["ids"]
    assert uid == euid == gid >= sandbox.WORKER_UID_RANGE[0]
    assert groups == []
    assert forked["capabilities"] == ["0000000000000000"] * 4
    assert forked["no_new_privs"] == "1"
    assert forked["zygote_is_pid_1"]
    assert forked["processes"] <= 3
    # Empty, but for the way to a Python installed under /tmp (a clone made with mktemp -d)
    assert forked["tmp"] == sorted({Path(kept).parts[0] for kept in sandbox._kept_in("/tmp")})
    assert forked["home"] == ["digits.py", "tmp"]
    assert forked["network"] != "reached"
    assert forked["descriptors"] == ["/dev/null", "/dev/null", "socket", "socket", "socket"]
    keys = ("capabilities", "no_new_privs", "zygote_is_pid_1", "tmp", "home", "network")
    for key in keys:
        assert forked[key] == fresh[key], key
    assert "/home/student" in forked["mounts"]
    assert "/tmp" in forked["mounts"]


def test_the_forked_sandbox_is_in_its_own_control_group(tmp_path: Path) -> None:
    """Its processes are the group's (the memory cap holds): a hog is stopped at the cap."""
    hog = """
        def probe(megabytes):
            block = bytearray(megabytes * 2**20)
            for start in range(0, len(block), 4096):
                block[start] = 1
            return len(block)

        def slow(seconds):
            return seconds
    """
    cases = {"small": "assert probe(50) > 0", "hog": "assert probe(900) > 0"}
    from mnist_lab.grading.config import GradingConfig

    config = GradingConfig(memory_bytes=500_000_000)
    result = grade(tmp_path, cases, source=hog, config=config)
    assert [case.passed for case in result.tests] == [True, False]
    assert "memory limit" in result.tests[1].output
    assert 0 < result.peak_memory_bytes <= 510_000_000


DETECTOR = """
    def probe(what):
        return sorted(found())

    def found():
        import builtins, os, numpy
        signs = set()
        if numpy.mean([1, 2]) == 42:
            signs.add("numpy patched")
        if getattr(builtins, "POISONED", False):
            signs.add("builtins patched")
        if os.environ.get("POISONED"):
            signs.add("environment")
        for folder in ("/tmp", "/dev/shm", os.path.expanduser("~")):
            if os.path.exists(os.path.join(folder, "poison")):
                signs.add("file in " + folder)
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                if open(f"/proc/{pid}/cmdline", "rb").read().startswith(b"sleep"):
                    signs.add("a process")
            except OSError:
                pass
        return signs

    def slow(seconds):
        return seconds
"""
POISON = (
    """
    import builtins, os, subprocess, sys
    import numpy

    numpy.mean = lambda *args, **kwargs: 42
    builtins.POISONED = True
    os.environ["POISONED"] = "1"
    for folder in ("/tmp", "/dev/shm", os.path.expanduser("~")):
        open(os.path.join(folder, "poison"), "w").write("x")
    subprocess.Popen(["sleep", "300"], start_new_session=True)
"""
    + DETECTOR
)


def test_nothing_of_one_submission_reaches_the_next_from_the_same_server(tmp_path: Path) -> None:
    poisoned = grade(
        tmp_path / "first",
        {"sees its own poison": "assert probe(0) == [], probe(0)"},
        source=POISON,
    )
    assert "numpy patched" in poisoned.tests[0].output  # the poison is real...
    assert "file in /tmp" in poisoned.tests[0].output
    server_pid = forkserver.shared(preload=("numpy",), hide=()).process.pid
    clean = grade(
        tmp_path / "next", {"no poison": "assert probe(0) == [], probe(0)"}, source=DETECTOR
    )
    assert clean.tests[0].passed, clean.tests[0].output  # ...and the next one sees none of it
    assert forkserver.shared(preload=("numpy",), hide=()).process.pid == server_pid


def test_a_dead_fork_server_is_started_again(tmp_path: Path) -> None:
    cases = {"runs": "assert slow(1) == 1"}
    assert grade(tmp_path / "one", cases).tests[0].passed
    server = forkserver.shared(preload=("numpy",), hide=())
    os.killpg(server.process.pid, signal.SIGKILL)
    server.process.wait()
    result = grade(tmp_path / "two", cases)
    assert result.grader_error is None
    assert result.tests[0].passed
    assert result.protections["fork_server"] is True


@pytest.mark.slow
def test_a_submission_poisoning_tensorflow_and_keras_cannot_change_the_next_score(
    tmp_path: Path,
) -> None:
    from importlib import resources

    reference = resources.files("mnist_lab.solutions").joinpath("digits.py").read_text("utf-8")
    poison = reference + (
        "\nimport builtins, keras, os\n"
        "keras.Model.fit = lambda *a, **k: None  # no model learns any more\n"
        "builtins.print = lambda *a, **k: None\n"
        "os.makedirs(os.path.expanduser('~/.keras'), exist_ok=True)\n"
        "open(os.path.expanduser('~/.keras/keras.json'), 'w').write('{\"floatx\": \"float16\"}')\n"
    )
    poisoned = grade_submission(submission=write(tmp_path / "p", "digits.py", poison))
    assert poisoned.grader_error is None, poisoned.grader_error
    assert poisoned.score < poisoned.max_score  # the poison works in its own sandbox
    clean = grade_submission(submission=write(tmp_path / "r", "digits.py", reference))
    assert clean.protections["fork_server"] is True
    assert clean.score == clean.max_score, [t.output for t in clean.tests if not t.passed]


def test_scores_are_the_same_with_and_without_the_fork_server(tmp_path: Path) -> None:
    cases = {
        "one": "assert slow(1) == 1",
        "uid": "assert probe(0)['ids'][0] != 0",
        "fails": "assert probe(0)['network'] == 'reached'",
    }
    forked = grade(tmp_path / "a", cases, source=WHO_AM_I)
    fresh = grade(tmp_path / "b", cases, source=WHO_AM_I, fork_server=False)
    assert [c.passed for c in forked.tests] == [c.passed for c in fresh.tests] == [1, 1, 0]


def test_doctor_checks_a_sandbox_forked_as_grading_forks_them() -> None:
    from mnist_lab.grading.doctor import run_doctor

    report = run_doctor()
    assert report.forked
    assert report.started, report.start_error
    assert [ok for _, ok, _ in report.checks] == [True] * len(report.checks)
    assert "forked from a warm fork server" in report.to_text()


def test_a_sandbox_that_cannot_isolate_itself_never_runs_the_submission(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """E.g. a kernel refusing a mount: a grader error, never a verdict."""
    broken = [
        [name, source + "\ndef become(uid):\n    raise OSError('refused here')\n"]
        if name.endswith(".isolation")
        else [name, source]
        for name, source in sandbox.module_bundle()
    ]
    monkeypatch.setattr(sandbox, "module_bundle", lambda: broken)
    result = grade(tmp_path, {"one": "assert slow(0) == 0"}, fork_server=True)
    assert result.grader_error is not None
    assert "could not isolate itself" in result.grader_error
    assert "refused here" in result.grader_error
    assert result.tests == []
