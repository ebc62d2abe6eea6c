"""The worker's isolation, with tiny submissions that do not import TensorFlow (fast to start)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import textwrap
from pathlib import Path

import pytest

from mnist_lab.grading import sandbox
from mnist_lab.grading.grade import grade_submission

needs_root = pytest.mark.skipif(
    not sandbox.running_as_root(),
    reason="only a root grader can run the worker as another user and hide files from it",
)


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def probe_tests(folder: Path, cases: dict[str, str]) -> Path:
    """A test file named "probe" with one 1-point case per (title, body using `probe`)."""
    lines = ["from otter.test_files import test_case", "OK_FORMAT = False", "name = 'probe'", ""]
    for number, (title, body) in enumerate(cases.items()):
        lines += [
            "@test_case(points=1, hidden=False)",
            f"def test_{number}(probe, slow):",
            f"    '''{title}'''",
            *("    " + line for line in textwrap.dedent(body).strip().splitlines()),
            "",
        ]
    write(folder, "probe.py", "\n".join(lines))
    return folder


SUBMISSION = """
    import os
    import time

    def probe(what):
        if what == "uid":
            return [os.getuid(), os.geteuid(), os.getgid()]
        if what == "cwd":
            return [os.getcwd(), sorted(os.listdir("."))]
        if what == "groups":
            return os.getgroups()
        return None

    def slow(seconds):
        time.sleep(seconds)
        return seconds
"""


def grade_probe(tmp_path: Path, cases: dict[str, str], **options):
    submission = write(tmp_path / "sub", "digits.py", SUBMISSION)
    tests = probe_tests(tmp_path / "tests", cases)
    return grade_submission(submission=submission, tests_dir=tests, **options)


@needs_root
def test_worker_runs_unprivileged_in_a_scratch_holding_only_the_submission(tmp_path: Path) -> None:
    result = grade_probe(
        tmp_path,
        {
            "not root": """
                uid, euid, gid = probe("uid")
                assert uid == euid != 0, f"uid {uid} euid {euid}"
                assert gid != 0
                assert 0 not in probe("groups")
            """,
            "scratch": """
                cwd, names = probe("cwd")
                assert names == ["digits.py", "tmp"], names
                assert "mnist-lab-worker-" in cwd, cwd
            """,
        },
    )
    assert [case.output for case in result.tests] == ["Passed.", "Passed."]


def test_a_case_fails_when_the_worker_failed_even_if_the_check_swallowed_it(
    tmp_path: Path,
) -> None:
    result = grade_probe(
        tmp_path,
        {
            "swallows a timeout": """
                try:
                    slow(30)
                except Exception:
                    pass
            """,
            "still graded after the restart": """
                assert slow(0) == 0
            """,
        },
        time_limit=1.5,
    )
    first, second = result.tests
    assert not first.passed
    assert first.score == 0
    assert "calling slow: timed out after 1.5 s" in first.output
    assert second.passed


def test_the_whole_run_is_bounded_by_the_budget(tmp_path: Path) -> None:
    cases = {f"sleeps {n}": "slow(2)" for n in range(6)}
    result = grade_probe(tmp_path, cases, time_limit=5, budget=5)
    outcomes = [case.passed for case in result.tests]
    assert outcomes[:1] == [True]
    assert outcomes[-2:] == [False, False]
    assert "time budget for grading was used up" in result.tests[-1].output
    assert result.execution_time < 12


@needs_root
def test_hidden_paths_are_restored_after_the_run(tmp_path: Path, file_modes) -> None:
    watched = [
        *sandbox.protected_paths([]),
        *(ancestor for folder in sandbox.interpreter_paths() for ancestor in folder.parents),
    ]
    before = file_modes.outside_grading(watched)
    tests = probe_tests(tmp_path / "tests", {"trivial": "pass"})
    submission = write(tmp_path / "sub", "digits.py", SUBMISSION)
    with sandbox.hidden_paths(sandbox.protected_paths([tests]), sandbox.interpreter_paths()):
        package = sandbox.protected_paths([])[0]
        assert os.stat(package).st_mode & 0o007 == 0
        state = json.loads(sandbox.STATE_FILE.read_text())
        assert [h for h in state["holders"] if h.startswith(f"{os.getpid()}:")]
    file_modes.assert_restored(before)
    grade_submission(submission=submission, tests_dir=tests)
    file_modes.assert_restored(before)


def test_odd_text_from_student_code_reaches_the_results_as_plain_text(tmp_path: Path) -> None:
    submission = write(
        tmp_path / "sub",
        "digits.py",
        """
        def probe(what):
            raise ValueError("bad \\udcff\\x00\\x1b[2J\\x07 " + "x" * 100000)

        def slow(seconds):
            return seconds
        """,
    )
    tests = probe_tests(tmp_path / "tests", {"odd message": "probe(1)"})
    results = tmp_path / "results.json"
    result = grade_submission(submission=submission, tests_dir=tests, results_path=results)
    output = result.tests[0].output
    assert output.startswith("Failed: your code raised ValueError (calling probe): bad ")
    assert all(c.isprintable() or c in "\n\t" for c in output)
    assert len(output) <= 4000
    data = json.loads(results.read_text(encoding="ascii"))
    data["tests"][0]["output"].encode("utf-8")  # no lone surrogates left


@needs_root
def test_processes_the_submission_starts_are_killed_even_when_they_escape(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    shared = Path(tempfile.mkdtemp(prefix="mnist-lab-pids-"))  # pytest's tmp is private
    request.addfinalizer(lambda: shutil.rmtree(shared))
    os.chmod(shared, 0o777)
    submission = write(
        tmp_path / "sub",
        "digits.py",
        f"""
        import os
        import time

        def probe(what):
            for _ in range(5):
                if os.fork() == 0:
                    try:
                        os.setsid()  # leave the worker's session, as a daemon would
                        with open(os.path.join({str(shared)!r}, str(os.getpid())), "w"):
                            pass
                        time.sleep(600)
                    finally:
                        os._exit(0)
            deadline = time.time() + 10
            while len(os.listdir({str(shared)!r})) < 5 and time.time() < deadline:
                time.sleep(0.05)
            return "spawned"

        def slow(seconds):
            return seconds
        """,
    )
    tests = probe_tests(tmp_path / "tests", {"spawns": "assert probe(1) == 'spawned'"})
    result = grade_submission(submission=submission, tests_dir=tests)
    assert result.tests[0].passed
    pids = [int(path.name) for path in shared.iterdir()]
    assert len(pids) == 5
    assert [pid for pid in pids if running(pid)] == []


def running(pid: int) -> bool:
    """The process exists and is not a zombie (killed, waiting to be reaped by init)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def test_a_worker_that_cannot_start_is_a_grader_error_not_a_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """E.g. an interpreter without NumPy: before any student code runs, so no score is given."""
    bundle = sandbox._module_bundle()
    broken = [
        [name, "import no_such_module_here\n" if name.endswith("protocol") else source]
        for name, source in bundle
    ]
    monkeypatch.setattr(sandbox, "_module_bundle", lambda: broken)
    submission = write(tmp_path / "sub", "digits.py", SUBMISSION)
    tests = probe_tests(tmp_path / "tests", {"trivial": "pass"})
    results = tmp_path / "results.json"
    with pytest.raises(sandbox.SandboxError, match=r"the grading worker did not start.*no_such"):
        grade_submission(submission=submission, tests_dir=tests, results_path=results)
    assert not results.exists()


def test_a_notebook_cell_that_runs_too_long_is_stopped_and_skipped(tmp_path: Path) -> None:
    cells = [
        "import time\nstarted = time.time()",
        "while True:  # training on the full data set, say\n    time.sleep(0.01)",
        textwrap.dedent(SUBMISSION),
    ]
    notebook = {
        "cells": [
            {"cell_type": "code", "metadata": {}, "outputs": [], "source": cell} for cell in cells
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    submission = tmp_path / "sub" / "digits.ipynb"
    submission.parent.mkdir()
    submission.write_text(json.dumps(notebook), encoding="utf-8")
    tests = probe_tests(tmp_path / "tests", {"defined after the slow cell": "assert slow(0) == 0"})
    result = grade_submission(submission=submission, tests_dir=tests, time_limit=1.5)
    assert result.tests[0].passed
    assert any(
        "code cell 2" in note and "ran longer than 1.5 s and was stopped" in note
        for note in result.notes
    )


# A vfork child (how subprocess and os.system start programs; TensorFlow's import runs `uname -p`)
# shares the worker's memory until its exec. Here it is held at that point: the spawn opens a FIFO
# before the exec, and the open blocks until the worker's main thread writes to the FIFO.
HELD_SPAWN = """
    import ctypes
    import os
    import sys
    import tempfile
    import threading
    import time

    libc = ctypes.CDLL(None, use_errno=True)  # ctypes releases the GIL: the spawn may block

    def spawn_held_at_exec(gate):
        actions = ctypes.create_string_buffer(256)  # a posix_spawn_file_actions_t is smaller
        libc.posix_spawn_file_actions_init(actions)
        libc.posix_spawn_file_actions_addopen(actions, 3, gate.encode(), os.O_RDONLY, 0)
        argv = (ctypes.c_char_p * 4)(sys.executable.encode(), b"-c", b"pass", None)
        pid = ctypes.c_int()
        if libc.posix_spawn(ctypes.byref(pid), argv[0], actions, None, argv, None) == 0:
            os.waitpid(pid.value, 0)

    def children():
        mine = str(os.getpid())
        found = []
        for entry in filter(str.isdigit, os.listdir("/proc")):
            try:
                stat = open(f"/proc/{entry}/stat").read()
            except OSError:
                continue
            if stat.rpartition(")")[2].split()[1] == mine:
                found.append(entry)
        return found

    def probe(megabytes):
        held = bytearray(megabytes * 2**20)
        held[::4096] = b"x" * len(held[::4096])  # resident, not only reserved
        gate = os.path.join(tempfile.mkdtemp(), "gate")
        os.mkfifo(gate)
        spawner = threading.Thread(target=spawn_held_at_exec, args=(gate,))
        spawner.start()
        time.sleep(1.5)  # fifteen polls of the watchdog while the child shares our memory
        kids = children()
        mine = open("/proc/self/statm").read()
        same = [open(f"/proc/{kid}/statm").read() == mine for kid in kids]
        with open(gate, "w"):
            pass
        spawner.join()
        return same

    def slow(seconds):
        return seconds
"""


@needs_root
def test_a_child_that_shares_the_workers_memory_is_not_charged_twice(tmp_path: Path) -> None:
    """300 MB held, a 500 MB cap: the worker and its vfork child together "have" 600 MB."""
    submission = write(tmp_path / "sub", "digits.py", HELD_SPAWN)
    tests = probe_tests(tmp_path / "tests", {"held spawn": "assert probe(300) == [True], probe"})
    result = grade_submission(
        submission=submission, tests_dir=tests, memory_limit_bytes=500 * 2**20
    )
    assert result.tests[0].output == "Passed."


@needs_root
def test_memory_held_by_a_child_process_counts_towards_the_cap(tmp_path: Path) -> None:
    submission = write(
        tmp_path / "sub",
        "digits.py",
        """
        import os
        import time

        def probe(megabytes):
            if os.fork() == 0:
                held = bytearray(megabytes * 2**20)
                held[::4096] = b"x" * len(held[::4096])
                time.sleep(30)
                os._exit(0)
            os.wait()
            return "done"

        def slow(seconds):
            return seconds
        """,
    )
    tests = probe_tests(tmp_path / "tests", {"child hog": "probe(600)"})
    result = grade_submission(
        submission=submission, tests_dir=tests, memory_limit_bytes=500 * 2**20
    )
    assert not result.tests[0].passed
    assert "used more than the 500 MB memory limit" in result.tests[0].output
    assert result.execution_time < 25
