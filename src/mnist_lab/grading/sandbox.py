"""The sandbox a submission runs in, and the grader's side of its channels.

One ``Sandbox`` per submission being graded. Its protections, as far as the machine allows
(``protections()`` says which are active; ``mnist-lab doctor`` prints them):

- **Namespaces** (bubblewrap, Debian/Ubuntu package ``bubblewrap``): a pid namespace whose
  process 1 is the worker's zygote (when it ends, every process of the sandbox ends with it), no
  network, private IPC, and a mount view holding only what the worker needs: ``/usr``, the Python
  installation and its site-packages (read-only, with mnist-lab's own package hidden), and
  private ``/tmp``, ``/dev/shm`` and home (the scratch folder). Tests, fixtures, solutions,
  other students' files, the batch's inputs and ``--out`` do not exist in it.
- **A control group** per sandbox (``cgroups.py``): a hard memory cap that counts shared memory,
  memfds and tmpfs files, a cap on processes and threads, and a CPU share equal to every other
  sandbox's.
- **A user of its own** (as root): a fresh uid/gid per submission, so the worker can neither
  signal nor read anything of the grader's or of another submission's.

Without namespaces the scratch folder is a private folder on disk and other files are protected
only by their permissions; without root the worker runs as the grader's user; without cgroups
memory is capped by polling resident memory. All of it is reported in the results.

Nothing here is kept under a fixed name in a shared folder, and no permission outside the
sandbox's own folders is changed.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import os
import queue
import random
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from mnist_lab.grading import cgroups, cleanup, protocol
from mnist_lab.grading.config import DEFAULTS, GradingConfig
from mnist_lab.grading.worker import BOOTSTRAP, CONTROL_FD_VARIABLE

OUTPUT_KEEP_BYTES = 64 * 1024
MEMORY_POLL_SECONDS = 0.1  # how often a waiting request checks memory, cancellation, death
WORKER_UID_RANGE = (2_000_000, 2_900_000)  # fresh ids nobody else uses
SANDBOX_HOME = "/home/student"  # the scratch folder, as the worker sees it with namespaces
PRIVATE_FOLDERS = ("/tmp", "/dev/shm", SANDBOX_HOME)  # empty tmpfs of their own, wiped per session
DEFAULT_PRELOAD = ("numpy", "tensorflow", "keras")
MODE_VARIABLE = "MNIST_LAB_SANDBOX"
MODES = ("auto", "no-namespaces", "minimal")  # minimal: no namespaces, no cgroups
CONTROL_TIMEOUT = 30.0  # a zygote that takes longer to fork or reset is broken
# The gate: the shell waits (on its stdin) until the grader has put it in its control group,
# then becomes the sandbox, so that every process of the sandbox starts inside the group.
GATE = 'read -r _ && exec "$@" </dev/null'


class SandboxError(Exception):
    """The sandbox cannot be started here: an environment problem, not the student's code."""


class GradingCancelled(BaseException):
    """The grading run was cancelled from outside (a batch was interrupted); nothing is written.

    A BaseException, so that no ``except Exception`` on the way counts it as a failed case.
    """


def running_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


# --- which protections this machine allows -----------------------------------------------------


@dataclass(frozen=True)
class Protections:
    """The protections a sandbox gets here, and why any is missing."""

    namespaces: bool
    cgroup: str  # "v2", "v1" or "" (none)
    separate_user: bool
    missing: tuple[str, ...] = ()

    @property
    def level(self) -> str:
        if self.namespaces and self.cgroup and self.separate_user:
            return "full"
        return "partial" if (self.namespaces or self.cgroup or self.separate_user) else "minimal"

    def lines(self) -> list[str]:
        cgroup = f"yes (cgroup {self.cgroup})" if self.cgroup else "no"
        return [
            "namespaces (bubblewrap): "
            + (
                "yes: own pid namespace (nothing outlives the worker), no network, a view "
                "holding only Python; tests, solutions, other students' files are absent"
                if self.namespaces
                else "no: nothing outlives the worker only as far as its process group or user "
                "can be killed; files are protected by their permissions only"
            ),
            f"control group (memory incl. shared memory, processes, CPU share): {cgroup}",
            "separate user: "
            + ("yes (a fresh uid per submission)" if self.separate_user else "no"),
            *(f"  why not: {reason}" for reason in self.missing),
        ]

    def summary(self) -> str:
        active = [
            name
            for name, on in (
                ("namespaces", self.namespaces),
                (f"cgroup {self.cgroup}", bool(self.cgroup)),
                ("separate user", self.separate_user),
            )
            if on
        ]
        return f"Sandbox: {self.level} ({', '.join(active) or 'process group and limits only'})."

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "namespaces": self.namespaces,
            "cgroup": self.cgroup,
            "separate_user": self.separate_user,
            "missing": list(self.missing),
        }


def _interpreter_dirs() -> list[Path]:
    """The folders that hold the Python the worker runs and its site-packages."""
    paths = set()
    for value in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix):
        paths.add(Path(value).absolute())
        paths.add(Path(value).resolve())
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        value = sysconfig.get_paths().get(key)
        if value:
            paths.add(Path(value).resolve())
    kept = []
    for path in sorted(paths, key=lambda p: len(p.parts)):
        if path.is_dir() and not any(parent in kept for parent in path.parents):
            kept.append(path)
    return kept


def interpreter_binds() -> list[Path]:
    """The interpreter's folders the sandbox binds (those outside /usr, outermost only)."""
    return [
        folder
        for folder in _interpreter_dirs()
        if folder != Path("/usr") and Path("/usr") not in folder.parents
    ]


def _kept_in(folder: str) -> list[str]:
    """The interpreter's folders bound inside private ``folder``: its wipe must leave them."""
    return [
        str(bound.relative_to(folder))
        for bound in interpreter_binds()
        if Path(folder) in bound.parents
    ]


def _unreachable_folder(path: Path) -> Path | None:
    """The first folder on the way to ``path`` that other users cannot pass (no o+x), if any."""
    try:
        for folder in [*reversed(path.resolve().parents), path.resolve()]:
            if folder.is_dir() and not os.stat(folder).st_mode & stat.S_IXOTH:
                return folder
    except OSError:
        return path
    return None


def _mode() -> str:
    mode = os.environ.get(MODE_VARIABLE, "auto").strip() or "auto"
    if mode not in MODES:
        raise SandboxError(f"{MODE_VARIABLE}={mode!r}: expected one of {', '.join(MODES)}")
    return mode


@functools.cache
def _bwrap_works(as_root: bool) -> str:
    """ "" when bubblewrap can make our sandbox here, else why not."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bubblewrap is not installed (apt-get install bubblewrap)"
    argv = [bwrap, *_namespace_flags(as_root), "--ro-bind", "/", "/", "--proc", "/proc"]
    argv += ["--dev", "/dev", "--", "/bin/sh", "-c", "exit 0"]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bubblewrap cannot run: {error}"
    if done.returncode != 0:
        return f"bubblewrap cannot make namespaces here: {done.stderr.strip()[:200]}"
    return ""


def protections(mode: str | None = None) -> Protections:
    """What a sandbox started now would get (``mode``: see MODES; default from the env)."""
    mode = mode or _mode()
    root = running_as_root()
    missing = []
    namespaces = False
    if mode == "auto":
        why = _bwrap_works(root)
        namespaces = not why
        if why:
            missing.append(f"namespaces: {why}")
    else:
        missing.append(f"namespaces: switched off ({MODE_VARIABLE}={mode})")
    version = ""
    if mode != "minimal":
        layout, why = cgroups.availability()
        version = layout.version if layout else ""
        if layout is None:
            missing.append(f"control group: {why}")
    else:
        missing.append(f"control group: switched off ({MODE_VARIABLE}={mode})")
    blocked = [f for f in map(_unreachable_folder, _interpreter_dirs()) if f is not None]
    separate = root and (namespaces or not blocked)
    if not root:
        missing.append("separate user: the grader is not root")
    elif not separate:
        mode = stat.filemode(os.stat(blocked[0]).st_mode)
        missing.append(
            "separate user: without namespaces the worker's Python must be reachable by other "
            f"users, and {blocked[0]} is closed to them (mode {mode})"
        )
    return Protections(namespaces, version, separate, tuple(missing))


SETPRIV_CAPABILITIES = ("CAP_SETUID", "CAP_SETGID")  # what setpriv needs to become the uid


def _namespace_flags(
    as_root: bool, capabilities: tuple[str, ...] = SETPRIV_CAPABILITIES
) -> list[str]:
    """bubblewrap's namespaces; as root, it keeps only ``capabilities``."""
    flags = ["--die-with-parent", "--new-session", "--unshare-pid", "--unshare-net"]
    flags += ["--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    if as_root:
        return [*flags, *(flag for name in capabilities for flag in ("--cap-add", name))]
    return [*flags, "--unshare-user"]


def bwrap_command(
    python: list[str],
    *,
    env: dict[str, str],
    tmpfs_bytes: int,
    hide: tuple[Path, ...] | list[Path],
    capabilities: tuple[str, ...] = SETPRIV_CAPABILITIES,
) -> list[str]:
    """``python`` run by bubblewrap as process 1 of new namespaces, with only ``env`` and the
    mount view (``mount_view``)."""
    argv = ["bwrap", *_namespace_flags(running_as_root(), capabilities), "--clearenv"]
    for key, value in env.items():
        argv += ["--setenv", key, value]
    argv += mount_view(tmpfs_bytes=tmpfs_bytes, hide=hide)
    return [*argv, "--as-pid-1", "--", *python]


# --- processes ---------------------------------------------------------------------------------


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
        except (OSError, ValueError):
            continue
    return pids


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat_file:
                    parent = int(stat_file.read().rpartition(")")[2].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(parent, []).append(int(entry))
    found, pending = [], [root]
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending += children.get(pid, [])
    return found


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


def _parent_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as stat_file:
            return int(stat_file.read().rpartition(")")[2].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _proportional_bytes(pid: int) -> int:
    """Pss: the process's resident memory, pages shared with others (a forked worker and its
    zygote share TensorFlow's) counted in proportion; resident memory where Pss is unknown."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _rss_bytes(pids: list[int]) -> int:
    """The memory of these processes (the fallback where no control group caps memory), each
    address space counted once."""
    watched = set(pids)
    total = 0
    for pid in pids:
        parent = _parent_of(pid) if len(pids) > 1 else None
        if parent in watched and _share_memory(pid, parent):
            continue  # its parent's memory, counted already
        total += _proportional_bytes(pid)
    return total


_uids_in_use: set[int] = set()  # by this process's sandboxes (a batch runs several at once)
_uids_lock = threading.Lock()


def fresh_uid() -> int:
    """A uid/gid no process uses, for one sandbox; give it back with ``release_uid``."""
    for _ in range(50):
        uid = random.randrange(*WORKER_UID_RANGE)
        with _uids_lock:
            if uid in _uids_in_use or _processes_of(uid):
                continue
            _uids_in_use.add(uid)
            return uid
    raise SandboxError(f"no free uid for the grading worker ({errno.errorcode[errno.EAGAIN]})")


def release_uid(uid: int | None) -> None:
    with _uids_lock:
        _uids_in_use.discard(uid)


def _kill_uid(uid: int) -> None:
    """Kill every process of ``uid``: ``kill(-1)`` run AS that uid reaches all of them at once."""
    for _ in range(20):
        if not _processes_of(uid):
            return
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(
                ["/bin/kill", "-KILL", "-1"],
                user=uid,
                group=uid,
                extra_groups=[],
                timeout=10,
                check=False,
                capture_output=True,
            )
        time.sleep(0.02)


# --- what the worker is sent -------------------------------------------------------------------


def module_bundle() -> list[list[Any]]:
    """The modules the worker needs, as (name, source) pairs; None source = empty package."""
    package = resources.files("mnist_lab")
    grading = resources.files("mnist_lab.grading")
    bundle: list[list[Any]] = [
        ["mnist_lab", None],
        ["mnist_lab.constants", package.joinpath("constants.py").read_text(encoding="utf-8")],
        ["mnist_lab.grading", None],
    ]
    for name in ("protocol", "cleanup", "modeldata", "isolation", "worker"):
        source = grading.joinpath(f"{name}.py").read_text(encoding="utf-8")
        bundle.append([f"mnist_lab.grading.{name}", source])
    return bundle


def reference_bundle() -> list[list[str]]:
    grading = resources.files("mnist_lab.grading")
    return [["mnist_lab.grading.reference", grading.joinpath("reference.py").read_text("utf-8")]]


def protected_paths(extra: list[Path]) -> list[Path]:
    """What the worker must never see: mnist-lab's package (tests, fixtures, solutions), a
    development checkout's git history, and ``extra``."""
    paths = set()
    for package in ("mnist_lab", "mnist_lab.solutions", "mnist_lab.autograder"):
        with contextlib.suppress(ModuleNotFoundError, TypeError):
            paths.add(Path(str(resources.files(package))))
    for path in list(paths):
        for ancestor in path.resolve().parents:
            if (ancestor / ".git").is_dir():
                paths.add(ancestor / ".git")
                break
    paths.update(Path(path) for path in extra)
    return sorted({p.resolve() for p in paths if p.exists()})


def environment(home: str, control_fd: int, *, tmp: str) -> dict[str, str]:
    """The whole environment of a sandbox's processes (nothing of the grader's)."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "USER": "student",
        "TMPDIR": tmp,
        "KERAS_HOME": f"{home}/.keras",
        "MPLCONFIGDIR": f"{home}/.matplotlib",
        "MPLBACKEND": "Agg",
        "LANG": "C.UTF-8",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "CUDA_VISIBLE_DEVICES": "",
        # OpenBLAS's threads spin after every call: on a machine grading several submissions
        # at once they burned as much CPU as the grading (TensorFlow has threads of its own).
        "OPENBLAS_NUM_THREADS": "1",
        # TensorFlow's thread pools, one thread each: grading runs tiny ops (a 784x128 model on
        # 32 images), where handing work between threads costs more than it saves: training
        # in the "learns" check took 25 % less CPU, and less time even with a core to spare.
        "TF_NUM_INTRAOP_THREADS": "1",
        "TF_NUM_INTEROP_THREADS": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "MNIST_LAB_OFFLINE": "1",
        CONTROL_FD_VARIABLE: str(control_fd),
    }


def hidden_in_view(hide: tuple[Path, ...] | list[Path]) -> list[Path]:
    """Of the paths to hide (and mnist-lab's own), those a view would show: inside /usr or a
    folder of Python's it binds (outermost only). Everything else is absent from it anyway."""
    binds = interpreter_binds()
    hidden: list[Path] = []
    for path in protected_paths(list(hide)):  # parents sort first
        if any(h in path.parents for h in hidden):
            continue  # already inside an emptied folder
        if any(path == b or b in path.parents for b in [Path("/usr"), *binds]):
            hidden.append(path)
    return hidden


def mount_view(*, tmpfs_bytes: int, hide: tuple[Path, ...] | list[Path]) -> list[str]:
    """bubblewrap's mount view: /usr, Python, private /tmp, /dev/shm and home; nothing else.

    The private folders are mounted before Python's folders, so a Python that lives under
    /tmp (a clone checked out there) is bound inside the private /tmp, not hidden by it.
    """
    argv = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "lib", "lib32", "lib64", "libx32", "sbin"):
        path = Path("/") / name
        if path.is_symlink():
            argv += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            argv += ["--ro-bind", str(path), str(path)]
    for name in ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "alternatives"):
        if (Path("/etc") / name).exists():
            argv += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    argv += ["--proc", "/proc", "--dev", "/dev"]
    for folder in PRIVATE_FOLDERS:
        argv += ["--size", str(tmpfs_bytes), "--perms", "1777", "--tmpfs", folder]
    made: set[Path] = {Path(folder) for folder in PRIVATE_FOLDERS}
    for folder in interpreter_binds():
        for parent in reversed(folder.parents):  # bwrap would copy their host modes
            if parent != Path("/") and parent not in made:
                argv += ["--perms", "0755", "--dir", str(parent)]
                made.add(parent)
        argv += ["--ro-bind", str(folder), str(folder)]
    for path in hidden_in_view(hide):
        # Inside a bound folder (an installed mnist-lab in the venv): an empty folder no one
        # may list, or an empty file, stands in for it.
        if path.is_dir():
            argv += ["--perms", "0000", "--tmpfs", str(path)]
        else:
            argv += ["--ro-bind", "/dev/null", str(path)]
    return [*argv, "--chdir", SANDBOX_HOME]


class OutputSink:
    """Drains the sandbox's stdout/stderr, keeping the first bytes and counting all of them."""

    def __init__(self, fd: int) -> None:
        self.kept = bytearray()
        self.total = 0
        self._thread = threading.Thread(target=self._drain, args=(fd,), daemon=True)
        self._thread.start()

    def _drain(self, fd: int) -> None:
        try:
            while chunk := os.read(fd, 65536):
                self.total += len(chunk)
                room = OUTPUT_KEEP_BYTES - len(self.kept)
                if room > 0:
                    self.kept += chunk[:room]
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                os.close(fd)

    def text(self, limit: int = 2000) -> str:
        """The start of the output as printable text (odd bytes replaced)."""
        raw = bytes(self.kept[:limit]).decode("utf-8", errors="replace")
        return "".join(c if c.isprintable() or c in "\n\t" else "\ufffd" for c in raw)


# --- channels ----------------------------------------------------------------------------------


def socket_pair() -> tuple[socket.socket, socket.socket]:
    """Two connected blocking sockets (a default timeout set by other code would make them
    non-blocking, and the channels read them with plain blocking reads)."""
    pair = socket.socketpair()
    for end in pair:
        end.setblocking(True)
    return pair


def sender_pid(sock: socket.socket, *, timeout: float) -> int:
    """The pid (in our namespace) of the process that wrote the next byte on ``sock``, as the
    kernel attached it (SO_PASSCRED was set before): never what the process says of itself."""
    sock.settimeout(timeout)
    try:
        data, ancillary, _, _ = sock.recvmsg(1, socket.CMSG_SPACE(struct.calcsize("3i")))
    except TimeoutError:
        raise SandboxError(f"the forked sandbox did not start within {timeout:g} s") from None
    finally:
        sock.setblocking(True)
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid, uid, _ = struct.unpack("3i", payload[: struct.calcsize("3i")])
            if data == b"\x01" and uid == 0 and pid > 0:
                return pid
    raise SandboxError("the forked sandbox did not identify itself")


class Channel:
    """One socket to the sandbox: requests out (one writer thread, in order), replies in (one
    reader thread), with deadlines.

    The socket is closed by whichever of the two threads finishes last, never by the caller:
    a descriptor number closed while a thread may still read or write it can be reused at once
    by the next sandbox's socket, and that thread would then steal or inject its bytes.
    """

    def __init__(
        self, sock: socket.socket, *, watch: Callable[[], None], max_reply_bytes: int
    ) -> None:
        self.sock = sock
        self.watch = watch  # raises WorkerFailure / GradingCancelled while a reply is awaited
        self.max_reply_bytes = max_reply_bytes
        self.dead_reason: str | None = None
        self._replies: queue.Queue = queue.Queue()
        self._outbox: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._users = 2  # the reader and the writer
        self._shut = False
        for target in (self._read, self._write):
            threading.Thread(target=target, daemon=True).start()

    def _done(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users == 0:
                self.sock.close()

    def _read(self) -> None:
        try:
            while True:
                message = protocol.read_message(self.sock.fileno(), max_bytes=self.max_reply_bytes)
                self._replies.put(("message", message))
        except EOFError:
            self._replies.put(("eof", None))
        except (protocol.ProtocolError, OSError, ValueError) as error:
            self._replies.put(("bad", str(error)))
        finally:
            self._done()

    def _write(self) -> None:
        failed = False
        try:
            while (item := self._outbox.get()) is not None:
                data, fds = item
                try:
                    if not failed:
                        self.sock.sendall(data)
                        if fds:
                            socket.send_fds(self.sock, [b"S"], [f.fileno() for f in fds])
                except OSError:
                    failed = True  # the worker is gone; what is queued is dropped
                finally:
                    for handle in fds:
                        handle.close()
        finally:
            self._done()

    def send(self, message: dict[str, Any], *, fds: tuple[socket.socket, ...] = ()) -> None:
        """Queue ``message`` (then ``fds``, which the channel closes once sent); a worker that
        does not read never blocks the grader."""
        data = protocol.encode_message(message)
        with self._lock:
            if self._shut:
                for handle in fds:
                    handle.close()
                return
            self._outbox.put((data, fds))

    def request(self, message: dict[str, Any], *, timeout: float) -> dict[str, Any]:
        """Send ``message``; the reply, or WorkerFailure (timeout, death, malformed reply)."""
        if self.dead_reason:
            raise protocol.WorkerFailure(self.dead_reason)
        self.send(message)
        return self.reply(timeout=timeout)

    def reply(self, *, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise protocol.WorkerFailure(f"timed out after {timeout:g} s")
            try:
                kind, payload = self._replies.get(timeout=min(MEMORY_POLL_SECONDS, remaining))
            except queue.Empty:
                self.watch()
                continue
            if kind == "message":
                self.watch()  # e.g. a child of the worker was killed for memory meanwhile
                return payload
            if kind == "bad":
                raise protocol.ProtocolError(f"the worker sent a malformed reply ({payload})")
            raise EOFError("the worker closed its channel")

    def close(self) -> None:
        """Wake both threads (they close the socket when they stop)."""
        with self._lock:
            if self._shut:
                return
            self._shut = True
            self._outbox.put(None)
            if self._users:
                with contextlib.suppress(OSError):
                    self.sock.shutdown(socket.SHUT_RDWR)


# --- the sandbox -------------------------------------------------------------------------------


@dataclass
class SandboxOptions:
    config: GradingConfig = DEFAULTS
    preload: tuple[str, ...] = DEFAULT_PRELOAD
    hide: tuple[Path, ...] = ()  # more paths the worker must not see
    cancel: threading.Event | None = None
    # A forkserver.ForkServer to fork the sandbox from (only with every protection), or None:
    # start a Python of its own.
    fork_server: Any = None


class Sandbox:
    """One submission's sandbox: the zygote process, its control channel, its control group."""

    def __init__(
        self, *, files: dict[str, str], protections: Protections, options: SandboxOptions
    ) -> None:
        self.files = files
        self.protections = protections
        self.options = options
        self.limits = options.config
        self.uid: int | None = fresh_uid() if protections.separate_user else None
        self.group: cgroups.Group | None = None
        self.scratch: Path | None = None  # on disk, without namespaces
        self.process: subprocess.Popen | None = None
        self.control: Channel | None = None
        self.output: OutputSink | None = None
        self.dead_reason: str | None = None
        self.peak_memory = 0
        self._ready = False

    # starting

    def start(self, *, timeout: float) -> None:
        """Start the zygote and wait until it has imported the heavy modules."""
        self.spawn()
        self.wait_ready(timeout=timeout)

    def spawn(self) -> None:
        """Start the zygote without waiting for it (the grader goes on meanwhile); a sandbox
        forked from a fork server is forked when it is first awaited."""
        if self.forked:
            return
        try:
            self._spawn()
        except SandboxError:
            self.close()
            raise
        except OSError as error:
            self.close()
            raise SandboxError(f"the grading sandbox cannot be made here: {error}") from None

    @property
    def ready(self) -> bool:
        return self._ready

    def wait_ready(self, *, timeout: float) -> None:
        """Wait for the zygote's first reply (its heavy modules imported).

        SandboxError when it does not come: no student code has run yet, so it is the grader's
        environment, never the student's fault.
        """
        if self._ready:
            return
        try:
            if self.forked and self.control is None:
                self._fork(timeout)
            reply = self.control.reply(timeout=timeout)
        except SandboxError:
            self.close()
            raise
        except (protocol.WorkerFailure, protocol.ProtocolError, EOFError, OSError) as failure:
            time.sleep(0.2)  # let the output drain
            detail = self.output.text(limit=600).strip().replace("\n", " | ") if self.output else ""
            self.close()
            raise SandboxError(
                f"the grading worker did not start ({failure}): {detail or 'no output'}"
            ) from None
        if reply.get("ok") is not True:
            self.close()
            raise SandboxError(f"the grading worker did not start: {reply.get('error')}")
        self._ready = True

    @property
    def forked(self) -> bool:
        return self.options.fork_server is not None

    def _fork(self, timeout: float) -> None:
        """Have the fork server fork this sandbox; put it in its control group before it does
        anything (it waits for its configuration), then send the configuration."""
        self.group = cgroups.Group.create(
            memory_bytes=self.limits.memory_bytes,
            max_processes=self.limits.max_processes + 1,  # + the process that holds process 1
        )
        try:
            control = self._forked_and_attached(timeout)
        except SandboxError:  # a server that died meanwhile is started again by the retry
            control = self._forked_and_attached(timeout)
        self.control = Channel(
            control, watch=self._watch, max_reply_bytes=self.limits.max_reply_bytes
        )
        config = {**self._config(), "uid": self.uid, "tmpfs_bytes": self.limits.memory_bytes}
        self.control.send(config)

    def _forked_and_attached(self, timeout: float) -> socket.socket:
        """A new child of the fork server, in our control group; its control socket."""
        control_ours, control_theirs = socket_pair()
        output_ours, output_theirs = socket_pair()
        control_ours.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.output = OutputSink(output_ours.detach())
        try:
            self.options.fork_server.fork(control_theirs, output_theirs, timeout=timeout)
            self.group.attach(sender_pid(control_ours, timeout=CONTROL_TIMEOUT))
            control_ours.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 0)
        except BaseException:
            control_ours.close()  # a child waiting for its configuration reads EOF and exits
            raise
        return control_ours

    def _spawn(self) -> None:
        control_ours, control_theirs = socket_pair()
        output_read, output_write = os.pipe()
        gate_read, gate_write = os.pipe()
        if self.protections.cgroup:
            self.group = cgroups.Group.create(
                memory_bytes=self.limits.memory_bytes, max_processes=self.limits.max_processes
            )
        command, env, cwd, user = self._command(control_theirs.fileno())
        gated = ["/bin/sh", "-c", GATE, "mnist-lab-sandbox", *command]
        try:
            self.process = subprocess.Popen(
                gated,
                stdin=gate_read,
                stdout=output_write,
                stderr=output_write,
                pass_fds=(control_theirs.fileno(),),
                cwd=cwd,
                env=env,
                start_new_session=True,
                **user,
            )
        except OSError as error:
            raise SandboxError(f"cannot start the grading sandbox: {error}") from error
        finally:
            for fd in (output_write, gate_read):
                os.close(fd)
            control_theirs.close()
        self.output = OutputSink(output_read)
        try:
            if self.group is not None:
                self.group.attach(self.process.pid)
            os.write(gate_write, b"go\n")
        finally:
            os.close(gate_write)
        self.control = Channel(
            control_ours, watch=self._watch, max_reply_bytes=self.limits.max_reply_bytes
        )
        self.control.send({"modules": module_bundle(), "config": self._config()})

    def _config(self) -> dict[str, Any]:
        if self.protections.namespaces:
            scratch, wipe, kill_mode = SANDBOX_HOME, list(PRIVATE_FOLDERS), "pidns"
        else:
            scratch, wipe = str(self.scratch), [str(self.scratch)]
            kill_mode = "uid" if self.uid is not None else "session"
        return {
            "scratch": scratch,
            "wipe": wipe,
            "keep": {folder: _kept_in(folder) for folder in wipe},
            "kill_mode": kill_mode,
            "files": self.files,
            "preload": list(self.options.preload),
            "max_file_bytes": self.limits.max_file_bytes,
            # Without a control group, the uid's process limit stands in for pids.max.
            "max_processes": None if self.group else self.limits.max_processes,
            "max_reply_bytes": self.limits.max_reply_bytes,
        }

    def _command(self, control_fd: int) -> tuple[list[str], dict[str, str], str, dict]:
        python = [sys.executable, "-I", "-c", BOOTSTRAP]
        if self.protections.namespaces:
            if self.uid is not None:
                uid = str(self.uid)
                python = ["setpriv", "--reuid", uid, "--regid", uid, "--clear-groups"]
                python += ["--inh-caps=-all", sys.executable, "-I", "-c", BOOTSTRAP]
            argv = bwrap_command(
                python,
                env=environment(SANDBOX_HOME, control_fd, tmp="/tmp"),
                tmpfs_bytes=self.limits.memory_bytes,
                hide=self.options.hide,
            )
            return argv, {"PATH": "/usr/bin:/bin"}, "/", {}
        self.scratch = Path(tempfile.mkdtemp(prefix="mnist-lab-worker-"))
        user: dict[str, Any] = {}
        if self.uid is not None:
            os.chown(self.scratch, self.uid, self.uid)
            user = {"user": self.uid, "group": self.uid, "extra_groups": []}
        os.chmod(self.scratch, 0o700)
        env = environment(str(self.scratch), control_fd, tmp=f"{self.scratch}/tmp")
        return python, env, str(self.scratch), user

    # watching

    def _pids(self) -> list[int]:
        if self.group is not None:
            return self.group.pids()
        if self.process is None:
            return []
        if self.uid is not None:
            return _processes_of(self.uid)
        return _descendants(self.process.pid)

    def memory_bytes(self) -> int:
        used = self.group.memory_bytes() if self.group else _rss_bytes(self._pids())
        self.peak_memory = max(self.peak_memory, used)
        return used

    def over_memory(self) -> bool:
        if self.group is not None:
            self.memory_bytes()
            return self.group.out_of_memory()
        return self.memory_bytes() > self.limits.memory_bytes

    def memory_message(self) -> str:
        return f"used more than the {self.limits.memory_bytes // 2**20} MB memory limit"

    def _watch(self) -> None:
        cancel = self.options.cancel
        if cancel is not None and cancel.is_set():
            self.kill("grading was cancelled")
            raise GradingCancelled()
        if self.over_memory():
            self.kill(self.memory_message())
            raise protocol.WorkerFailure(self.dead_reason)
        ended = self.process.poll() is not None if self.process is not None else not self._pids()
        if ended:
            self.kill("the sandbox ended")
            raise protocol.WorkerFailure(self.dead_reason)

    # sessions

    def open_session(self) -> Channel:
        """A fresh worker (forked by the zygote after killing every other process and emptying
        the scratch folders), talking on a socket of its own."""
        if self.dead_reason:
            raise protocol.WorkerFailure(self.dead_reason)
        ours, theirs = socket_pair()
        self.control.send({"op": "session"}, fds=(theirs,))  # the channel closes theirs
        try:
            reply = self._control_reply()
        except protocol.WorkerFailure:
            ours.close()
            raise
        if reply.get("ok") is not True:
            ours.close()
            raise protocol.WorkerFailure(f"the sandbox could not start a worker ({reply})")
        return Channel(ours, watch=self._watch, max_reply_bytes=self.limits.max_reply_bytes)

    def _control_reply(self) -> dict[str, Any]:
        try:
            return self.control.reply(timeout=CONTROL_TIMEOUT)
        except (protocol.WorkerFailure, protocol.ProtocolError, EOFError) as failure:
            self.kill(f"the sandbox's zygote stopped answering ({failure})")
            raise protocol.WorkerFailure(self.dead_reason) from None

    def reset(self) -> None:
        """Kill every process of the sandbox but the zygote (the worker of a failed session)."""
        if self.dead_reason:
            return
        self.control.send({"op": "reset"})
        reply = self._control_reply()
        if reply.get("ok") is not True:
            self.kill("the sandbox could not be reset")

    def exit_description(self) -> str:
        """What ended the last session's worker (the zygote reaped it)."""
        if self.dead_reason:
            return self.dead_reason
        if self.over_memory():
            return self.memory_message()
        self.control.send({"op": "status"})
        try:
            reply = self._control_reply()
        except protocol.WorkerFailure as failure:
            return str(failure)
        status = reply.get("exit")
        return describe_exit(status if type(status) is int else None)

    # ending

    def kill(self, reason: str) -> None:
        """Kill everything of the sandbox; later requests fail with ``reason``."""
        if self.dead_reason is None:
            self.dead_reason = reason
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)
        if self.group is not None:
            self.group.kill_all()
        if self.uid is not None and not self.protections.namespaces:
            _kill_uid(self.uid)
        if self.process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
        if self.control is not None:
            self.control.close()

    def close(self) -> None:
        """Kill the sandbox and remove everything it left: processes, group, scratch, uid."""
        self.kill("the sandbox was closed")
        if self.group is not None:
            self.peak_memory = max(self.peak_memory, self.group.peak_memory_bytes())
            self.group.remove()
            self.group = None
        if self.scratch is not None:
            with contextlib.suppress(OSError):
                cleanup.remove_folder(self.scratch)
            self.scratch = None
        if self.uid is not None and not self.protections.namespaces:
            _remove_files_of(self.uid)
        release_uid(self.uid)
        self.uid = None


def _remove_files_of(uid: int) -> None:
    """Without namespaces, /tmp and /dev/shm are the machine's: remove what the uid left there."""
    for folder in {Path(tempfile.gettempdir()), Path("/tmp"), Path("/dev/shm")}:
        with contextlib.suppress(OSError):
            for entry in folder.iterdir():
                with contextlib.suppress(OSError):
                    if entry.lstat().st_uid != uid:
                        continue
                    if entry.is_dir() and not entry.is_symlink():
                        cleanup.remove_folder(entry)
                    else:
                        entry.unlink()


def describe_exit(status: int | None) -> str:
    if status is None:
        return "the worker process closed its channel"
    if status < 0:
        try:
            name = signal.Signals(-status).name
        except ValueError:
            name = f"signal {-status}"
        return f"the worker process was killed by {name}"
    return f"the worker process exited with status {status}"


__all__ = [
    "DEFAULT_PRELOAD",
    "GradingCancelled",
    "Protections",
    "Sandbox",
    "SandboxError",
    "SandboxOptions",
    "protections",
]
