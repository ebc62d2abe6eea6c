"""The sandbox, at each protection level, against what submissions try, with tiny submissions
that do not import TensorFlow (the worker preloads NumPy only: fast to start).

Levels (``MNIST_LAB_SANDBOX``): ``auto`` (here, as root with bubblewrap: namespaces, a control
group, a user of its own), ``no-namespaces`` (a control group; files protected by permissions
only) and ``minimal`` (neither). The no-root level is ``test_sandbox_levels.py``'s.
"""

from __future__ import annotations

import fcntl
import json
import os
import resource
import socket
import stat
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import pytest

from mnist_lab.grading import protocol, sandbox
from mnist_lab.grading.grade import grade_submission

needs_root = pytest.mark.skipif(
    not sandbox.running_as_root(), reason="only a root grader can run the worker as another user"
)
LEVELS = ["auto", "no-namespaces", "minimal"]


def namespaces_here() -> bool:
    return sandbox.protections("auto").namespaces


needs_namespaces = pytest.mark.skipif(
    not namespaces_here(), reason="bubblewrap cannot make namespaces here (.ci/run installs it)"
)


@pytest.fixture(params=[True, False], ids=["forked", "fresh"])
def fork_server(request: pytest.FixtureRequest) -> bool:
    """Where every protection is available: forked from the fork server, or a fresh Python."""
    return request.param


@pytest.fixture(params=LEVELS)
def level(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(sandbox.MODE_VARIABLE, request.param)
    return request.param


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def probe_tests(folder: Path, cases: dict[str, str], *, hidden: tuple[str, ...] = ()) -> Path:
    """A test file named "probe" with one 1-point case per (title, body using `probe`)."""
    lines = ["from otter.test_files import test_case", "OK_FORMAT = False", "name = 'probe'", ""]
    for number, (title, body) in enumerate(cases.items()):
        lines += [
            f"@test_case(points=1, hidden={title in hidden})",
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


def grade(tmp_path: Path, cases: dict[str, str], *, source: str = SUBMISSION, **options):
    submission = write(tmp_path / "sub", "digits.py", source)
    tests = probe_tests(tmp_path / "tests", cases, hidden=options.pop("hidden", ()))
    options.setdefault("preload", ("numpy",))
    return grade_submission(submission=submission, tests_dir=tests, **options)


def leaked(result) -> str:
    """What a failed case's output carries (the probes report by failing with their data)."""
    return "\n".join(case.output for case in result.tests)


# --- who the worker is and what it sees --------------------------------------------------------


@needs_root
@needs_namespaces
def test_the_worker_runs_as_its_own_user_in_a_private_scratch(
    tmp_path: Path, fork_server: bool
) -> None:
    result = grade(
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
                assert cwd == "/home/student", cwd
            """,
        },
        fork_server=fork_server,
    )
    assert [case.output for case in result.tests] == ["Passed.", "Passed."], result.grader_error
    assert result.protections["level"] == "full"


LOOK_AROUND = """
    import os

    def readable(path):
        try:
            os.listdir(path)
            return True
        except NotADirectoryError:
            pass
        except OSError:
            return False
        try:
            with open(path, "rb") as stream:
                return stream.read(1) != b""
        except OSError:
            return False

    def probe(paths):
        # Absent, or (an installed package inside the venv) an empty stand-in no one may list
        found = [path for path in paths if readable(path)]
        commands = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                commands.append(open(f"/proc/{pid}/cmdline", "rb").read().decode(errors="replace"))
            except OSError:
                pass
        with open("/proc/self/net/dev") as devices:
            interfaces = [line.split(":")[0].strip() for line in devices.readlines()[2:]]
        return {"found": found, "commands": commands, "interfaces": interfaces}

    def slow(seconds):
        return seconds
"""


@needs_namespaces
def test_tests_solutions_classmates_and_the_grader_cannot_be_read_by_the_worker(
    tmp_path: Path, fork_server: bool
) -> None:
    from importlib import resources

    from mnist_lab.grading.grade import default_tests_dir

    classmate = write(tmp_path / "course" / "classmate", "digits.py", "SECRET = 1\n")
    out = tmp_path / "out"
    out.mkdir()
    secret_paths = [
        str(default_tests_dir()),
        str(resources.files("mnist_lab.solutions")),
        str(resources.files("mnist_lab.autograder")),
        str(resources.files("mnist_lab")),
        str(classmate),
        str(out),
        str(tmp_path / "tests"),
        str(Path(__file__)),
    ]
    body = f"import json\nassert False, 'DATA' + json.dumps(probe({secret_paths!r}))"
    result = grade(tmp_path, {"looks around": body}, source=LOOK_AROUND, fork_server=fork_server)
    seen = json.loads(leaked(result).split("DATA", 1)[1])
    assert seen["found"] == []
    assert not any("pytest" in command for command in seen["commands"])  # no grader visible
    assert len(seen["commands"]) <= 3  # the zygote, the worker (and at most one child)
    assert seen["interfaces"] == ["lo"]


# --- limits -------------------------------------------------------------------------------------


def test_a_case_fails_when_the_worker_failed_even_if_the_check_swallowed_it(
    tmp_path: Path, level: str
) -> None:
    result = grade(
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
    result = grade(tmp_path, cases, time_limit=5, budget=5)
    outcomes = [case.passed for case in result.tests]
    assert outcomes[:1] == [True]
    assert not all(outcomes)
    assert result.execution_time < 20
    assert any("time budget" in case.output for case in result.tests)


def test_odd_text_from_student_code_reaches_the_results_as_plain_text(tmp_path: Path) -> None:
    source = """
        def probe(what):
            raise ValueError("bad \\x00\\x1b[31m \\ud800 " + "x" * 10000)

        def slow(seconds):
            return seconds
    """
    results = tmp_path / "results.json"
    result = grade(tmp_path, {"odd": "probe(1)"}, source=source, results_path=results)
    output = result.tests[0].output
    assert output.startswith("Failed: your code raised ValueError (calling probe): bad ")
    assert all(c.isprintable() or c in "\n\t" for c in output)
    assert len(output) <= 4000
    data = json.loads(results.read_text(encoding="ascii"))
    data["tests"][0]["output"].encode("utf-8")  # no lone surrogates left


ESCAPE = """
    import ctypes
    import os
    import signal
    import time

    def probe(token):
        # A fork-and-exit chain: the grandchild leaves the session, becomes its own reaper,
        # ignores every signal it can and keeps forking, as a daemon would.
        if os.fork() == 0:
            if os.fork() == 0:
                os.setsid()
                ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
                for number in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
                    signal.signal(number, signal.SIG_IGN)
                for _ in range(3):
                    if os.fork() == 0:
                        break
                os.environ["MNIST_LAB_ESCAPE"] = token
                time.sleep(600)
            os._exit(0)
        time.sleep(1)
        return os.getuid()

    def slow(seconds):
        return seconds
"""


def _uid_of_escapees(token: str) -> set[int]:
    found = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            environment = Path(f"/proc/{pid}/environ").read_bytes()
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        if f"MNIST_LAB_ESCAPE={token}".encode() in environment and "State:\tZ" not in status:
            found.add(int(pid))
    return found


@needs_root
@pytest.mark.parametrize("mode", ["auto", "no-namespaces"])
def test_nothing_the_submission_starts_outlives_grading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str, fork_server: bool
) -> None:
    monkeypatch.setenv(sandbox.MODE_VARIABLE, mode)
    token = os.urandom(6).hex()
    cases = {"escapes": f"assert probe({token!r}) == -1, 'ran'"}
    result = grade(tmp_path, cases, source=ESCAPE, fork_server=fork_server)
    assert "ran" in result.tests[0].output
    assert _uid_of_escapees(token) == set()


def test_a_worker_that_cannot_start_is_a_grader_error_not_a_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """E.g. an interpreter without NumPy: before any student code runs, so no score is given."""
    bundle = sandbox.module_bundle()
    broken = [
        [name, "import no_such_module_here\n" if name.endswith("protocol") else source]
        for name, source in bundle
    ]
    monkeypatch.setattr(sandbox, "module_bundle", lambda: broken)
    results = tmp_path / "results.json"
    result = grade(tmp_path, {"trivial": "assert slow(0) == 0"}, results_path=results)
    data = json.loads(results.read_text(encoding="utf-8"))
    assert result.grader_error is not None
    assert "no_such" in result.grader_error
    assert data["output"].startswith("Grading failed: the grading sandbox did not start")
    assert data["extra_data"]["mnist_lab"]["grader_error"] == result.grader_error
    assert data["tests"] == []


def test_a_sabotaged_worker_is_a_grader_error_not_a_verdict(tmp_path: Path) -> None:
    source = """
        import sys

        sys.modules["mnist_lab.grading.protocol"].encode_value = None  # every reply now fails

        def probe(what):
            return 1

        def slow(seconds):
            return seconds
    """
    result = grade(tmp_path, {"one": "assert probe(1) == 1"}, source=source)
    assert result.grader_error is not None
    assert "outside the student's code" in result.grader_error
    assert result.score == 0
    assert result.tests == []


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
    result = grade_submission(
        submission=submission, tests_dir=tests, time_limit=1.5, preload=("numpy",)
    )
    assert result.tests[0].passed
    assert any(
        "code cell 2" in note and "ran longer than 1.5 s and was stopped" in note
        for note in result.notes
    )


MEMORY = """
    import mmap
    import os
    import time

    def probe(how):
        megabytes = 600
        if how == "child":
            if os.fork() == 0:
                held = bytearray(megabytes * 2**20)
                held[::4096] = b"x" * len(held[::4096])
                time.sleep(30)
                os._exit(0)
            os.wait()
        elif how == "memfd":  # written, never mapped: invisible to a resident-memory poll
            chunk = b"x" * 2**20
            for number in range(megabytes // 50):  # files stay under the 64 MB file-size cap
                fd = os.memfd_create(f"hold{number}")
                for _ in range(50):
                    os.write(fd, chunk)
            time.sleep(5)
        elif how == "shm":  # tmpfs files in /dev/shm
            for number in range(megabytes // 50):
                with open(f"/dev/shm/hold{number}", "wb") as stream:
                    for _ in range(50):
                        stream.write(b"x" * 2**20)
            time.sleep(5)
        return "survived"

    def slow(seconds):
        return seconds
"""


@needs_root
@pytest.mark.parametrize("how", ["child", "memfd", "shm"])
def test_memory_in_children_memfds_and_shared_memory_counts_towards_the_cap(
    tmp_path: Path, how: str, fork_server: bool
) -> None:
    before = set(os.listdir("/dev/shm"))
    result = grade(
        tmp_path,
        {how: f"probe({how!r})"},
        source=MEMORY,
        memory_limit_bytes=500 * 2**20,
        fork_server=fork_server,
    )
    assert not result.tests[0].passed
    assert "used more than the 500 MB memory limit" in result.tests[0].output
    assert result.execution_time < 25
    assert set(os.listdir("/dev/shm")) <= before  # nothing left in the machine's /dev/shm


def test_without_a_control_group_resident_memory_is_still_capped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(sandbox.MODE_VARIABLE, "minimal")
    result = grade(
        tmp_path, {"child": "probe('child')"}, source=MEMORY, memory_limit_bytes=500 * 2**20
    )
    assert "used more than the 500 MB memory limit" in result.tests[0].output


# --- no shared state, no permission changes ----------------------------------------------------

OLD_STATE = Path(tempfile.gettempdir()) / "mnist-lab-grading-permissions.json"
OLD_LOCK = Path(tempfile.gettempdir()) / "mnist-lab-grading-permissions.lock"
OLD_TEMP = Path(tempfile.gettempdir()) / "mnist-lab-grading-permissions.tmp"


def test_no_grading_state_in_shared_tmp_and_no_permission_changed(tmp_path: Path) -> None:
    """What broke 0.1.0: a planted state file made root chmod a path of its choice, a held lock
    blocked every grading, a folder at the temp path broke every run."""
    victim = tmp_path / "victim"
    victim.mkdir()
    os.chmod(victim, 0o700)
    for path in (OLD_STATE, OLD_LOCK):  # what an mnist-lab 0.1.0 run may have left behind
        path.unlink(missing_ok=True)
    if OLD_TEMP.is_dir():
        OLD_TEMP.rmdir()
    OLD_STATE.write_text(json.dumps({"holders": [], "modes": {str(victim): 0o777}}))
    OLD_TEMP.mkdir()
    from mnist_lab.grading.grade import default_tests_dir

    watched = [default_tests_dir(), Path("/"), Path(tempfile.gettempdir()), victim]
    modes = {path: stat.S_IMODE(os.stat(path).st_mode) for path in watched}
    try:
        with open(OLD_LOCK, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # held by "another submission" all along
            result = grade(tmp_path, {"works": "assert slow(0) == 0"})
        assert result.tests[0].passed
        assert {path: stat.S_IMODE(os.stat(path).st_mode) for path in watched} == modes
    finally:
        OLD_STATE.unlink(missing_ok=True)
        OLD_LOCK.unlink(missing_ok=True)
        OLD_TEMP.rmdir()


# --- what crosses the channel ------------------------------------------------------------------


def test_a_padded_reply_is_a_grader_error_and_the_grader_stays_small(tmp_path: Path) -> None:
    source = """
        import os
        import socket
        import struct

        def probe(what):
            header = struct.pack(">Q", 2 * 2**30)  # "2 GB follow"
            for fd in range(3, 64):
                try:
                    socket.socket(fileno=os.dup(fd)).send(header + b"[" * 2**20)
                except OSError:
                    pass
            return "sent"

        def slow(seconds):
            return seconds
    """
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = grade(tmp_path, {"pads": "probe(1)"}, source=source)
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert result.grader_error is not None
    assert "malformed" in result.grader_error
    assert grown_kb < 200 * 1024


HIDDEN_INPUTS = """
    import os
    import time

    SEEN = []

    def probe(value):
        SEEN.append(value)
        with open(os.path.expanduser("~/seen.txt"), "a") as log:
            log.write(repr(value) + "\\n")
        try:
            logged = open(os.path.expanduser("~/seen.txt")).read()
        except OSError:
            logged = ""
        raise ValueError(f"seen: {SEEN!r} logged: {logged!r}")

    def slow(seconds):
        return seconds
"""


def test_nothing_of_a_hidden_case_reaches_a_public_case(tmp_path: Path) -> None:
    result = grade(
        tmp_path,
        {
            "hidden one": "probe('hidden-input-41')",
            "public one": "probe('public-input')",
            "hidden two": "probe('hidden-input-42')",
            "public two": "probe('public-input-2')",
        },
        source=HIDDEN_INPUTS,
        hidden=("hidden one", "hidden two"),
    )
    public = [case for case in result.tests if not case.hidden]
    assert [case.name for case in public] == ["probe: public one", "probe: public two"]
    assert all("hidden-input" not in case.output for case in public)
    hidden = [case for case in result.tests if case.hidden]
    assert all("public-input" not in case.output for case in hidden)  # a fresh worker


DEEP_TREE = """
    import os

    def probe(depth):
        fd = os.open(".", os.O_RDONLY)
        for _ in range(depth):
            os.mkdir("d" * 30, dir_fd=fd)
            below = os.open("d" * 30, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = below
        os.chmod("d" * 30, 0)  # the top of the chain: unreadable, unwritable
        return "built"

    def slow(seconds):
        return seconds
"""


@pytest.mark.parametrize("mode", ["auto", "minimal"])
def test_a_3000_deep_folder_chain_is_cleaned_up_and_results_are_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setenv(sandbox.MODE_VARIABLE, mode)
    scratch_before = set(Path(tempfile.gettempdir()).glob("mnist-lab-worker-*"))
    results = tmp_path / "results.json"
    result = grade(
        tmp_path, {"deep": "assert probe(3000) == 'built'"}, source=DEEP_TREE, results_path=results
    )
    assert result.tests[0].passed
    assert json.loads(results.read_text())["score"] == 1
    assert set(Path(tempfile.gettempdir()).glob("mnist-lab-worker-*")) == scratch_before


def test_a_closed_channels_reader_never_reads_the_next_channels_socket(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A batch's replies came back garbled ("message of 8872776721799738482 bytes"): a closed
    channel's reader, paused between two reads, read on from its descriptor number after the
    next sandbox's socket had taken it, and stole that socket's bytes."""

    known, resume, old_threads = threading.Event(), threading.Event(), set()
    real_read = protocol.read_message

    def read_after_a_pause(fd: int, **options):
        known.wait(10)
        if threading.current_thread() in old_threads:
            resume.wait(10)  # the old channel's reader lost the CPU here
        return real_read(fd, **options)

    monkeypatch.setattr(protocol, "read_message", read_after_a_pause)
    old_ours, old_theirs = sandbox.socket_pair()
    before = set(threading.enumerate())
    old = sandbox.Channel(old_ours, watch=lambda: None, max_reply_bytes=2**20)
    old_threads.update(set(threading.enumerate()) - before)
    known.set()
    old.close()
    old_theirs.close()
    ours, theirs = sandbox.socket_pair()  # the lowest free numbers: the old one's, if it was freed
    channel = sandbox.Channel(ours, watch=lambda: None, max_reply_bytes=2**20)
    resume.set()
    for number in range(3):
        protocol.write_message(theirs.fileno(), {"reply": number})
    assert [channel.reply(timeout=10) for _ in range(3)] == [{"reply": n} for n in range(3)]
    channel.close()
    theirs.close()


def test_a_channel_sends_in_order_and_closes_the_descriptors_it_passes() -> None:
    """A session's descriptor went out after its request (the zygote reads them in that order)."""

    ours, theirs = sandbox.socket_pair()
    channel = sandbox.Channel(ours, watch=lambda: None, max_reply_bytes=2**20)
    passed = [sandbox.socket_pair() for _ in range(3)]
    for number, (end, _) in enumerate(passed):
        channel.send({"op": "session", "n": number}, fds=(end,))
    for number, (_, other_end) in enumerate(passed):
        assert protocol.read_message(theirs.fileno()) == {"op": "session", "n": number}
        _, fds, _, _ = socket.recv_fds(theirs, 1, 1)
        os.write(fds[0], b"x")  # the passed socket works ...
        assert other_end.recv(1) == b"x"
        os.close(fds[0])
    channel.close()
    deadline = time.monotonic() + 10  # the writer thread closes them once sent
    while any(end.fileno() != -1 for end, _ in passed) and time.monotonic() < deadline:
        time.sleep(0.01)
    for end, other_end in passed:
        assert end.fileno() == -1  # ... and the grader's copy was closed
        other_end.close()
    theirs.close()


READ_A_FILE = """
    def probe(path):
        with open(path, encoding="utf-8") as stream:
            return stream.read()

    def slow(seconds):
        return seconds
"""


@needs_namespaces
def test_a_python_installed_under_tmp_runs_in_the_private_tmp(tmp_path: Path, monkeypatch) -> None:
    """The developers' clean clone lives in mktemp -d: its venv is under /tmp, which the sandbox
    replaces by an empty tmpfs ("setpriv: failed to execute …/.venv/bin/python"). It is bound
    inside that tmpfs, and the wipe between two sessions leaves it."""
    venv = Path(tempfile.mkdtemp(prefix="mnist-lab-venv-", dir="/tmp"))
    real_dirs = sandbox._interpreter_dirs()
    monkeypatch.setattr(sandbox, "_interpreter_dirs", lambda: [*real_dirs, venv])
    (venv / "marker.txt").write_text("bound", encoding="utf-8")
    os.chmod(venv, 0o755)
    try:
        marker = str(venv / "marker.txt")
        cases = {"sees it": f"assert probe({marker!r}) == 'bound'"}
        cases["after a wipe"] = cases["sees it"]  # hidden: the next session
        result = grade(tmp_path, cases, hidden=("after a wipe",), source=READ_A_FILE)
        assert [case.output for case in result.tests] == ["Passed.", "Passed."], result.grader_error
    finally:
        (venv / "marker.txt").unlink()
        venv.rmdir()
