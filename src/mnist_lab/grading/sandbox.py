"""Run the worker process: isolation, limits, and the grader's side of the channel.

- The worker is ``python -I -c worker.BOOTSTRAP`` in a fresh scratch directory holding only a copy
  of the submission, with a minimal environment, in its own session (so a kill reaches its
  children).
- As root it runs under a fresh unprivileged uid/gid (one per grading run, so that killing "all its
  processes" can never touch anything else), and the grader hides the tests, fixtures, reference
  code and the mnist_lab package from it for the duration (``hidden_paths``): it removes the
  "other" permission bits of those folders and puts them back when the last grading run on the
  machine ends. The interpreter's folders get the "other" execute bit if they lack it (e.g.
  ``/root`` for a pyenv or Miniforge Python) so the worker can start.
- Every request has a deadline; a watchdog polls the resident memory of the worker's processes
  (``/proc``, no RLIMIT_AS: TensorFlow reserves far more address space than it uses; a vfork
  child, which shares its parent's memory until its exec, is not counted twice) and kills them
  past the cap. Output the worker prints goes to a pipe the grader drains, keeping the first
  ``OUTPUT_KEEP_BYTES`` and counting the rest.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import json
import os
import queue
import random
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from mnist_lab.grading import protocol
from mnist_lab.grading.worker import BOOTSTRAP

OUTPUT_KEEP_BYTES = 64 * 1024
MEMORY_POLL_SECONDS = 0.1  # how often the watchdog reads the worker's resident memory
STATE_DIR = Path(tempfile.gettempdir())
LOCK_FILE = STATE_DIR / "mnist-lab-grading-permissions.lock"
STATE_FILE = STATE_DIR / "mnist-lab-grading-permissions.json"
WORKER_UID_RANGE = (2_000_000, 2_900_000)  # fresh ids nobody else uses


class SandboxError(Exception):
    """The worker cannot be started here (an environment problem, not the student's code)."""


class GradingCancelled(BaseException):
    """The grading run was cancelled from outside (a batch was interrupted); nothing is written.

    A BaseException, so that no ``except Exception`` on the way counts it as a failed case.
    """


@dataclass(frozen=True)
class Limits:
    """Resource limits of one worker."""

    # Resident memory: TensorFlow and the reference take 0.7 GB; a worker killed at 1.3 GB has
    # peaked under 1.5 GB unless it grew faster than 2 GB/s between two polls of the watchdog.
    memory_bytes: int = 1_300_000_000
    max_processes: int = 512  # threads count too, and TensorFlow starts many
    max_file_bytes: int = 64 * 1024**2


def running_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


# --- permissions (root only) ---------------------------------------------------------------------


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def _state_lock() -> Iterator[dict[str, Any]]:
    import fcntl  # POSIX only, like everything that needs root here

    with open(LOCK_FILE, "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            state = json.loads(STATE_FILE.read_text()) if STATE_FILE.exists() else {}
        except ValueError:
            state = {}
        state.setdefault("holders", [])
        state.setdefault("modes", {})
        state["holders"] = [holder for holder in state["holders"] if _holder_alive(holder)]
        yield state
        if state["holders"]:
            temp = STATE_FILE.with_suffix(".tmp")
            temp.write_text(json.dumps(state))
            os.replace(temp, STATE_FILE)
        else:
            STATE_FILE.unlink(missing_ok=True)


def _holder_alive(holder: Any) -> bool:
    """A holder is "<pid>:<token>" (one per grading run: a batch runs several in one process)."""
    try:
        pid = int(str(holder).split(":", 1)[0])
    except ValueError:
        return False
    return _pid_alive(pid)


def _ancestors(path: Path) -> list[Path]:
    path = path.resolve()
    return [*reversed(path.parents), path]


def interpreter_paths() -> list[Path]:
    """Folders the worker must be able to traverse to run Python with its site-packages."""
    import sysconfig

    paths = {Path(sys.executable).resolve().parent, Path(sys.executable).absolute().parent}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        value = sysconfig.get_paths().get(key)
        if value:
            paths.add(Path(value))
    return sorted(paths)


def protected_paths(extra: list[Path]) -> list[Path]:
    """What the worker must not read: the package (tests, fixtures, solutions) and ``extra``."""
    paths = set()
    for package in (
        "mnist_lab",
        "mnist_lab.solutions",
        "mnist_lab.autograder",
        "mnist_lab.exercises",
    ):
        with contextlib.suppress(ModuleNotFoundError, TypeError):
            paths.add(Path(str(resources.files(package))))
    for path in list(paths):  # a development checkout: its git history holds the solutions
        for ancestor in path.resolve().parents:
            if (ancestor / ".git").is_dir():
                paths.add(ancestor / ".git")
                break
    for path in extra:
        paths.add(Path(path))
    return sorted(p.resolve() for p in paths if p.exists())


@contextlib.contextmanager
def hidden_paths(hide: list[Path], traverse: list[Path]) -> Iterator[None]:
    """Remove "other" access to ``hide``, add "other" traversal to ``traverse``'s ancestors.

    Only as root (otherwise nothing can be hidden from a worker running as the same user). The
    original modes are restored when the last grading run holding them ends; a crashed run's
    changes are restored by the next run that ends.
    """
    if not running_as_root():
        yield
        return
    me = f"{os.getpid()}:{uuid.uuid4().hex}"
    with _state_lock() as state:
        modes = state["modes"]
        for path in hide:
            key = str(path)
            current = path.stat().st_mode
            modes.setdefault(key, stat.S_IMODE(current))
            os.chmod(path, stat.S_IMODE(current) & ~0o007)
        hidden = {str(path) for path in hide}
        for folder in traverse:
            for ancestor in _ancestors(folder):
                key = str(ancestor)
                current = stat.S_IMODE(ancestor.stat().st_mode)
                if current & 0o001 or key in hidden:
                    continue
                modes.setdefault(key, current)
                os.chmod(ancestor, current | 0o001)
        state["holders"].append(me)
    try:
        yield
    finally:
        with _state_lock() as state:
            state["holders"] = [holder for holder in state["holders"] if holder != me]
            if not state["holders"]:
                for key, mode in state["modes"].items():
                    with contextlib.suppress(OSError):
                        os.chmod(key, mode)
                state["modes"] = {}


# --- processes of a uid --------------------------------------------------------------------------


def _processes_of(uid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as status:
                for line in status:
                    if line.startswith("Uid:"):
                        if int(line.split()[1]) == uid:
                            pids.append(int(entry))
                        break
        except OSError:
            continue
    return pids


def _parent_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as stat_file:
            return int(stat_file.read().rpartition(")")[2].split()[1])
    except (OSError, ValueError, IndexError):
        return None


# kcmp(2) tells whether two processes share one address space; its number differs by machine.
_KCMP_SYSCALL = {"x86_64": 312, "aarch64": 272, "riscv64": 272}
_KCMP_VM = 1


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _share_memory(pid: int, other: int) -> bool:
    """Whether two processes have one address space: a vfork child (how ``subprocess`` and
    ``os.system`` start programs) shares its parent's until its exec."""
    number = _KCMP_SYSCALL.get(os.uname().machine)
    if number is None:
        return False  # such a child is then counted twice: the cap errs towards stopping
    return _libc().syscall(number, pid, other, _KCMP_VM, 0, 0) == 0


def _rss_bytes(pids: list[int]) -> int:
    """The resident memory of these processes, each address space counted once."""
    total = 0
    watched = set(pids)
    for pid in pids:
        if len(pids) > 1:
            parent = _parent_of(pid)
            if parent in watched and _share_memory(pid, parent):
                continue  # its parent's memory, counted already
        try:
            with open(f"/proc/{pid}/statm") as statm:
                total += int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            continue
    return total


# --- the worker process --------------------------------------------------------------------------


def _module_bundle() -> list[list[Any]]:
    """The modules the worker needs, as (name, source) pairs; None source = empty package."""
    package = resources.files("mnist_lab")
    grading = resources.files("mnist_lab.grading")
    bundle: list[list[Any]] = [
        ["mnist_lab", None],
        ["mnist_lab.constants", package.joinpath("constants.py").read_text(encoding="utf-8")],
        ["mnist_lab.grading", None],
        ["mnist_lab.grading.protocol", grading.joinpath("protocol.py").read_text(encoding="utf-8")],
    ]
    modelinfo = grading.joinpath("modelinfo.py")
    if modelinfo.is_file():
        bundle.append(["mnist_lab.grading.modelinfo", modelinfo.read_text(encoding="utf-8")])
    bundle.append(["mnist_lab.grading.worker", grading.joinpath("worker.py").read_text("utf-8")])
    return bundle


def reference_bundle() -> list[list[str]]:
    grading = resources.files("mnist_lab.grading")
    return [["mnist_lab.grading.reference", grading.joinpath("reference.py").read_text("utf-8")]]


class OutputSink:
    """Drains the worker's stdout/stderr, keeping the first bytes and counting all of them."""

    def __init__(self, stream: Any) -> None:
        self.kept = bytearray()
        self.total = 0
        self._thread = threading.Thread(target=self._drain, args=(stream,), daemon=True)
        self._thread.start()

    def _drain(self, stream: Any) -> None:
        fd = stream.fileno()
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            self.total += len(chunk)
            room = OUTPUT_KEEP_BYTES - len(self.kept)
            if room > 0:
                self.kept += chunk[:room]

    def text(self, limit: int = 2000) -> str:
        """The start of the output as printable text (odd bytes replaced)."""
        raw = bytes(self.kept[:limit]).decode("utf-8", errors="replace")
        return "".join(c if c.isprintable() or c in "\n\t" else "\ufffd" for c in raw)


class WorkerProcess:
    """One running worker; ``request`` sends a message and waits for the reply with a deadline."""

    def __init__(
        self,
        *,
        scratch: Path,
        uid: int | None,
        limits: Limits,
        cancel: threading.Event | None = None,
    ) -> None:
        self.scratch = scratch
        self.cancel = cancel
        self.uid = uid
        self.limits = limits
        self.dead_reason: str | None = None
        self.peak_rss = 0  # the most resident memory the watchdog saw (bytes)
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(scratch),
            "TMPDIR": str(scratch / "tmp"),
            "KERAS_HOME": str(scratch / ".keras"),
            "MPLCONFIGDIR": str(scratch / ".matplotlib"),
            "MPLBACKEND": "Agg",
            "LANG": "C.UTF-8",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "CUDA_VISIBLE_DEVICES": "",
            "PYTHONDONTWRITEBYTECODE": "1",
            "MNIST_LAB_OFFLINE": "1",
        }
        options: dict[str, Any] = {}
        if uid is not None:
            options.update(user=uid, group=uid, extra_groups=[])
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-I", "-c", BOOTSTRAP],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=scratch,
                env=env,
                start_new_session=True,
                close_fds=True,
                **options,
            )
        except OSError as error:
            who = f" as uid {uid}" if uid is not None else ""
            raise SandboxError(f"cannot start the grading worker{who}: {error}") from error
        self.output = OutputSink(self.process.stderr)
        self._replies: queue.Queue = queue.Queue()
        self._reader = threading.Thread(target=self._read_replies, daemon=True)
        self._reader.start()
        config = {
            "max_file_bytes": limits.max_file_bytes,
            "max_processes": limits.max_processes,
        }
        self._send({"modules": _module_bundle(), "config": config})

    def check_started(self, *, timeout: float) -> None:
        """Wait until the worker answers, before any student code runs in it."""
        try:
            reply = self.request({"op": "ping"}, timeout=timeout)
        except protocol.WorkerFailure as failure:
            time.sleep(0.2)  # let the output drain
            detail = self.output.text(limit=600).strip().replace("\n", " | ")
            raise SandboxError(
                f"the grading worker did not start ({failure}): {detail or 'no output'}"
            ) from None
        if reply.get("ok") is not True:
            raise SandboxError("the grading worker did not start (bad reply to ping)")

    def _read_replies(self) -> None:
        fd = self.process.stdout.fileno()
        while True:
            try:
                self._replies.put(("message", protocol.read_message(fd)))
            except EOFError:
                self._replies.put(("eof", None))
                return
            except (protocol.ProtocolError, OSError) as error:
                self._replies.put(("bad", str(error)))
                return

    def _send(self, message: dict[str, Any]) -> None:
        protocol.write_message(self.process.stdin.fileno(), message)

    def _pids(self) -> list[int]:
        if self.uid is not None:
            return _processes_of(self.uid)
        return [self.process.pid] if self.process.poll() is None else []

    def request(self, message: dict[str, Any], *, timeout: float) -> dict[str, Any]:
        """Send a request and return the reply, or raise WorkerFailure (the worker is then dead)."""
        if self.dead_reason:
            raise protocol.WorkerFailure(self.dead_reason)
        deadline = time.monotonic() + timeout
        sender_error: list[BaseException] = []

        def send() -> None:
            try:
                self._send(message)
            except BaseException as error:  # a dead worker's closed pipe
                sender_error.append(error)

        # Writing may block on a full pipe when the worker does not read: never in this thread.
        threading.Thread(target=send, daemon=True).start()
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill(f"timed out after {timeout:g} s")
                raise protocol.WorkerFailure(self.dead_reason)
            try:
                kind, payload = self._replies.get(timeout=min(MEMORY_POLL_SECONDS, remaining))
            except queue.Empty:
                if self.cancel is not None and self.cancel.is_set():
                    self.kill("grading was cancelled")
                    raise GradingCancelled() from None
                if self._rss_exceeded():
                    limit_mb = self.limits.memory_bytes // 2**20
                    self.kill(f"used more than the {limit_mb} MB memory limit")
                    raise protocol.WorkerFailure(self.dead_reason) from None
                continue
            if kind == "message":
                return payload
            if kind == "bad":
                self.kill(f"sent a malformed reply ({payload})")
                raise protocol.WorkerFailure(self.dead_reason)
            self.process.wait(timeout=5) if self.process.poll() is None else None
            self.kill(self._exit_description())
            raise protocol.WorkerFailure(self.dead_reason)

    def _rss_exceeded(self) -> bool:
        rss = _rss_bytes(self._pids())
        self.peak_rss = max(self.peak_rss, rss)
        return rss > self.limits.memory_bytes

    def _exit_description(self) -> str:
        code = self.process.poll()
        if code is None:
            return "the worker process closed its channel"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"the worker process was killed by {name}"
        return f"the worker process exited with status {code}"

    def kill(self, reason: str) -> None:
        """Kill the worker and everything it started; later requests fail with ``reason``."""
        if self.dead_reason is None:
            self.dead_reason = reason
        for _ in range(3):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if hasattr(os, "killpg"):
                    os.killpg(self.process.pid, signal.SIGKILL)
                else:  # Windows (a student's own `mnist-lab check`): no process groups
                    self.process.kill()
            for pid in self._pids() if self.uid is not None else []:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=2)
            if not self._pids():
                break
        for stream in (self.process.stdin,):
            with contextlib.suppress(OSError):
                stream.close()

    def close(self) -> None:
        self.kill("the worker was stopped")
        with contextlib.suppress(OSError):
            self.process.stdout.close()
            self.process.stderr.close()


def make_scratch(submission: Path, *, uid: int | None) -> Path:
    """A fresh folder holding only a copy of the submission (owned by the worker's uid)."""
    scratch = Path(tempfile.mkdtemp(prefix="mnist-lab-worker-"))
    target = scratch / submission.name
    shutil.copyfile(submission, target)
    (scratch / "tmp").mkdir()
    if uid is not None:
        for path in (scratch, target, scratch / "tmp"):
            os.chown(path, uid, uid)
        os.chmod(scratch, 0o700)
    return scratch


def remove_scratch(scratch: Path) -> None:
    def retry(function: Any, path: str, _info: Any) -> None:
        with contextlib.suppress(OSError):
            os.chmod(path, 0o700)
            function(path)

    shutil.rmtree(scratch, onerror=retry)


_uids_in_use: set[int] = set()  # by this process's grading runs (a batch runs several at once)
_uids_lock = threading.Lock()


def fresh_uid() -> int | None:
    """A uid/gid no one uses, for this run's workers (None when not root: no privilege drop).

    Give it back with ``release_uid`` when the run ends.
    """
    if not running_as_root():
        return None
    for _ in range(50):
        uid = random.randrange(*WORKER_UID_RANGE)
        with _uids_lock:
            if uid in _uids_in_use or _processes_of(uid):
                continue
            _uids_in_use.add(uid)
            return uid
    raise OSError(errno.EAGAIN, "no free uid for the grading worker")


def release_uid(uid: int | None) -> None:
    with _uids_lock:
        _uids_in_use.discard(uid)
