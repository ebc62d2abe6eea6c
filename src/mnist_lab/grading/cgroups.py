"""One control group per worker sandbox: memory (shmem, memfd and tmpfs included), processes, CPU.

``create`` makes a fresh group for one sandbox, named at random under ``mnist-lab/`` (no fixed
names, no state files): with cgroup v2 one folder under the grader's own group; with v1 one
folder in each of the memory, pids, cpu and freezer hierarchies. The kernel then enforces the
memory cap for everything the sandbox does (its page cache, shared memory, memfds and tmpfs
files count, unlike a resident-memory poll), the number of processes and threads, and a CPU
share equal to every other sandbox's (150 busy processes get no more CPU than one).

Needs root (or a delegated group); ``availability()`` says whether and why not.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

GROUP_PARENT = "mnist-lab"
V1_CONTROLLERS = ("memory", "pids", "cpu", "freezer")
V2_CONTROLLERS = ("memory", "pids", "cpu")


def _mounts() -> list[tuple[str, str, set[str]]]:
    """(mount point, file system type, options) of every cgroup file system."""
    found = []
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 3 or tail[0] not in ("cgroup", "cgroup2"):
            continue
        found.append((fields[4].replace("\\040", " "), tail[0], set(tail[2].split(","))))
    return found


def _own_v2_group(mount: str) -> Path:
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        if line.startswith("0::"):
            return Path(mount) / line[3:].lstrip("/")
    return Path(mount)


@dataclass(frozen=True)
class Layout:
    """Where groups are made: ``v2`` (one folder) or ``v1`` (one folder per controller)."""

    version: str
    roots: dict[str, Path]  # controller -> the folder under which groups are made


def _v2_layout() -> Layout | None:
    for mount, kind, _ in _mounts():
        if kind != "cgroup2":
            continue
        base = _own_v2_group(mount)
        available = (
            set((base / "cgroup.controllers").read_text().split()) if base.is_dir() else set()
        )
        if not set(V2_CONTROLLERS) <= available:
            continue
        parent = base / GROUP_PARENT
        parent.mkdir(exist_ok=True)
        enable = " ".join(f"+{name}" for name in V2_CONTROLLERS)
        # Our own group may hold processes (a container): its subtree can still delegate to
        # "mnist-lab" if the controllers are enabled here; that fails with EBUSY where the kernel
        # forbids it, and v2 is then unavailable.
        (base / "cgroup.subtree_control").write_text(enable)
        (parent / "cgroup.subtree_control").write_text(enable)
        return Layout("v2", {name: parent for name in V2_CONTROLLERS})
    return None


def _v1_layout() -> Layout | None:
    roots = {}
    for mount, kind, options in _mounts():
        if kind != "cgroup":
            continue
        for controller in V1_CONTROLLERS:
            if controller in options and controller not in roots:
                roots[controller] = Path(mount) / GROUP_PARENT
    if "memory" not in roots or "pids" not in roots:
        return None
    for root in roots.values():
        root.mkdir(exist_ok=True)
    return Layout("v1", roots)


_LAYOUT: tuple[Layout | None, str] | None = None


def availability() -> tuple[Layout | None, str]:
    """The layout to use, or None and why cgroups cannot be used here (computed once)."""
    global _LAYOUT
    if _LAYOUT is None:
        if os.geteuid() != 0:
            _LAYOUT = (None, "not root (control groups need root or a delegated group)")
        else:
            reasons = []
            for make in (_v2_layout, _v1_layout):
                try:
                    layout = make()
                except OSError as error:
                    reasons.append(f"{make.__name__[1:3]}: {error.strerror or error}")
                    continue
                if layout is not None:
                    _LAYOUT = (layout, "")
                    break
            else:
                why = "; ".join(reasons) or "no cgroup file system with memory and pids controllers"
                _LAYOUT = (None, why)
    return _LAYOUT


class Group:
    """One sandbox's control group(s)."""

    def __init__(self, layout: Layout, folders: dict[str, Path]) -> None:
        self.layout = layout
        self.folders = folders  # controller -> this group's folder

    @classmethod
    def create(cls, *, memory_bytes: int, max_processes: int) -> Group:
        layout, why = availability()
        if layout is None:
            raise OSError(why)
        name = f"sandbox-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        folders = {}
        group = cls(layout, folders)
        try:
            for controller, root in layout.roots.items():
                folder = root / name
                if folder not in folders.values():
                    folder.mkdir()
                folders[controller] = folder
            group._limit(memory_bytes, max_processes)
        except BaseException:
            group.remove()
            raise
        return group

    def _write(self, controller: str, name: str, value: str) -> None:
        (self.folders[controller] / name).write_text(value)

    def _limit(self, memory_bytes: int, max_processes: int) -> None:
        if self.layout.version == "v2":
            self._write("memory", "memory.max", str(memory_bytes))
            with contextlib.suppress(OSError):
                self._write("memory", "memory.swap.max", "0")
            self._write("pids", "pids.max", str(max_processes))
            return
        self._write("memory", "memory.limit_in_bytes", str(memory_bytes))
        if (self.folders["memory"] / "memory.memsw.limit_in_bytes").exists():
            self._write("memory", "memory.memsw.limit_in_bytes", str(memory_bytes))
        self._write("pids", "pids.max", str(max_processes))
        if "cpu" in self.folders:
            self._write("cpu", "cpu.shares", "1024")

    def attach(self, pid: int) -> None:
        """Put ``pid`` in the group (before it starts anything: children inherit the group)."""
        for folder in dict.fromkeys(self.folders.values()):
            (folder / "cgroup.procs").write_text(str(pid))

    def pids(self) -> list[int]:
        found: set[int] = set()
        for folder in dict.fromkeys(self.folders.values()):
            with contextlib.suppress(OSError, ValueError):
                found.update(int(p) for p in (folder / "cgroup.procs").read_text().split())
        return sorted(found)

    def _read_int(self, controller: str, name: str) -> int | None:
        try:
            return int((self.folders[controller] / name).read_text().split()[0])
        except (OSError, ValueError, IndexError, KeyError):
            return None

    def _counter(self, controller: str, name: str, key: str) -> int:
        try:
            for line in (self.folders[controller] / name).read_text().splitlines():
                parts = line.split()
                if len(parts) == 2 and parts[0] == key:
                    return int(parts[1])
        except (OSError, ValueError, KeyError):
            pass
        return 0

    def memory_bytes(self) -> int:
        name = "memory.current" if self.layout.version == "v2" else "memory.usage_in_bytes"
        return self._read_int("memory", name) or 0

    def peak_memory_bytes(self) -> int:
        name = "memory.peak" if self.layout.version == "v2" else "memory.max_usage_in_bytes"
        return self._read_int("memory", name) or 0

    def out_of_memory(self) -> bool:
        """Whether the kernel killed a process of the group for using too much memory."""
        if self.layout.version == "v2":
            return self._counter("memory", "memory.events", "oom_kill") > 0
        return self._counter("memory", "memory.oom_control", "oom_kill") > 0

    def _freeze(self, frozen: bool) -> None:
        with contextlib.suppress(OSError, KeyError):
            if self.layout.version == "v2":
                self._write("memory", "cgroup.freeze", "1" if frozen else "0")
            elif "freezer" in self.folders:
                self._write("freezer", "freezer.state", "FROZEN" if frozen else "THAWED")

    def kill_all(self) -> None:
        """Kill every process in the group; frozen first, so none can fork in between."""
        if self.layout.version == "v2" and (self.folders["memory"] / "cgroup.kill").exists():
            with contextlib.suppress(OSError):
                self._write("memory", "cgroup.kill", "1")
        self._freeze(True)
        for _ in range(100):
            pids = self.pids()
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            self._freeze(False)
            time.sleep(0.01)
            self._freeze(True)
        self._freeze(False)

    def remove(self) -> None:
        """Kill what is left and remove the group's folders (retrying while they drain)."""
        if self.pids():
            self.kill_all()
        for folder in dict.fromkeys(self.folders.values()):
            for _ in range(200):
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.01)
