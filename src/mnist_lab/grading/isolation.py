"""What a sandbox forked by the fork server does to itself before it runs anything of a student.

Runs inside the fork server's bubblewrap view (no network, only /usr and Python visible, the
grader's files hidden), as root with just the capabilities listed in ``SERVER_CAPABILITIES``.
A forked sandbox takes, in this order:

1. new mount, pid, IPC and UTS namespaces (``unshare``; its next child is process 1 of the new
   pid namespace: when that process ends, every process of the sandbox ends with it);
2. fresh, empty ``/tmp``, ``/dev/shm`` and home of its own (tmpfs capped at the memory limit),
   with Python's folders bound again where they lay inside one of them, and a /proc of its own;
3. the submission's uid and gid, no supplementary groups, no capabilities left in any set, and
   no way to gain any (``PR_SET_NO_NEW_PRIVS``).

Nothing here imports mnist_lab beyond the standard library: it is sent to the sandbox with the
worker's modules.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

SERVER_CAPABILITIES = ("CAP_SYS_ADMIN", "CAP_SETUID", "CAP_SETGID")

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWPID = 0x20000, 0x4000000, 0x8000000, 0x20000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND, MS_REC, MS_PRIVATE = 2, 4, 8, 4096, 16384, 1 << 18
PR_SET_NO_NEW_PRIVS = 38
_CAPABILITY_VERSION_3 = 0x20080522


class IsolationError(OSError):
    """A namespace, mount or privilege step failed: the sandbox must not run."""


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        number = ctypes.get_errno()
        raise IsolationError(number, f"{what}: {os.strerror(number)}")


def new_namespaces() -> None:
    """Mount, pid, IPC and UTS namespaces of our own (the pid one applies to our next child)."""
    flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
    _check(_libc().unshare(flags), "unshare")


def _bytes(text: str | None) -> bytes | None:
    return None if text is None else text.encode()


def _mount(source: str | None, target: str, kind: str | None, flags: int, data: str = "") -> None:
    result = _libc().mount(_bytes(source), _bytes(target), _bytes(kind), flags, _bytes(data))
    _check(result, f"mount {kind or source} on {target}")


def private_folders(*, folders: list[str], keep: dict[str, list[str]], size_bytes: int) -> None:
    """Empty tmpfs on each of ``folders``; what ``keep`` names inside one (Python's folders)
    is bound again at the same place, read-only as before."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing we mount reaches the server
    for folder in folders:
        kept = [os.path.join(folder, name) for name in keep.get(folder, [])]
        handles = [os.open(path, os.O_PATH | os.O_DIRECTORY) for path in kept]
        _mount("tmpfs", folder, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size_bytes},mode=1777")
        for path, handle in zip(kept, handles, strict=True):
            for parent in reversed(Path(path).parents):
                if Path(folder) in parent.parents:
                    os.makedirs(parent, mode=0o755, exist_ok=True)
            os.makedirs(path, mode=0o755, exist_ok=True)
            _mount(f"/proc/self/fd/{handle}", path, None, MS_BIND | MS_REC)
            os.close(handle)
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)


class _CapabilityHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapabilityData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def become(uid: int) -> None:
    """Become ``uid``/``uid`` with no groups and no capability in any set, for good."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)  # clears the permitted, effective and ambient sets
    header = _CapabilityHeader(_CAPABILITY_VERSION_3, 0)
    data = (_CapabilityData * 2)()  # all zero: the inheritable set too
    _check(_libc().capset(ctypes.byref(header), data), "capset")
    _check(_libc().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")
    if os.getuid() != uid or os.geteuid() != uid or os.getegid() != uid or os.getgroups():
        raise IsolationError(0, f"could not become uid {uid}")
