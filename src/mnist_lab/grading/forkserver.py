"""The fork server: one warm process per grader that forks every submission's sandbox.

Starting a sandbox from scratch pays TensorFlow's import (3 to 5 s of CPU) per submission. The
fork server pays it once: it is started in bubblewrap with the same view as a sandbox (no
network, only /usr and Python, the grader's files hidden), imports the heavy modules before any
TensorFlow op runs, and never runs student code. For each submission it forks a child that
isolates itself (``isolation.py``: new mount, pid, IPC and UTS namespaces, empty private
folders, the submission's uid, no capabilities) after the grader has put it in the submission's
control group, then becomes that sandbox's zygote, exactly as a freshly started one.

Memory is shared copy-on-write: a sandbox is charged only for the pages it writes.

Used only where every protection is available (namespaces, a control group, root): elsewhere
each sandbox starts its own Python as before. ``--no-fork-server`` does that everywhere.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

from mnist_lab.grading import isolation, protocol, sandbox
from mnist_lab.grading.config import DEFAULTS
from mnist_lab.grading.worker import BOOTSTRAP

SERVER_TMPFS_BYTES = 64 * 2**20  # the server writes nothing; its sandboxes mount their own


class ForkServer:
    """One warm server process; ``fork`` hands it a new sandbox's two sockets."""

    def __init__(self, *, preload: tuple[str, ...], hide: tuple[Path, ...]) -> None:
        self.preload = preload
        self.hide = hide
        self.process: subprocess.Popen | None = None
        self.control: sandbox.Channel | None = None
        self.output: sandbox.OutputSink | None = None
        self.ready = False
        self._lock = threading.Lock()

    def _alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _watch(self) -> None:
        if not self._alive():
            raise protocol.WorkerFailure("the fork server ended")

    def _argv(self, control_fd: int) -> list[str]:
        return sandbox.bwrap_command(
            [sys.executable, "-I", "-c", BOOTSTRAP],
            env=sandbox.environment(sandbox.SANDBOX_HOME, control_fd, tmp="/tmp"),
            tmpfs_bytes=SERVER_TMPFS_BYTES,
            hide=self.hide,
            capabilities=isolation.SERVER_CAPABILITIES,
        )

    def _start(self) -> None:
        ours, theirs = sandbox.socket_pair()
        output_read, output_write = os.pipe()
        started = threading.Event()
        failures: list[OSError] = []

        def keep() -> None:
            # bwrap's --die-with-parent follows the thread that started it: this one lives
            # exactly as long as the server.
            try:
                self.process = subprocess.Popen(
                    self._argv(theirs.fileno()),
                    stdin=subprocess.DEVNULL,
                    stdout=output_write,
                    stderr=output_write,
                    pass_fds=(theirs.fileno(),),
                    env={"PATH": "/usr/bin:/bin"},
                    start_new_session=True,
                )
            except OSError as error:
                failures.append(error)
                return
            finally:
                started.set()
            self.process.wait()

        self.process = None
        threading.Thread(target=keep, name="mnist-lab-fork-server", daemon=True).start()
        started.wait()
        os.close(output_write)
        theirs.close()
        self.output = sandbox.OutputSink(output_read)
        if failures:
            ours.close()
            raise sandbox.SandboxError(f"the fork server could not be started: {failures[0]}")
        self.ready = False
        self.control = sandbox.Channel(
            ours, watch=self._watch, max_reply_bytes=DEFAULTS.max_reply_bytes
        )
        config = {"role": "fork-server", "preload": list(self.preload)}
        self.control.send({"modules": sandbox.module_bundle(), "config": config})

    def _ensure_started(self) -> None:
        if not self._alive():
            self._stop()
            self._start()

    def start(self) -> None:
        """Start the server if it is not running (without waiting for its imports)."""
        with self._lock:
            self._ensure_started()

    def _wait_ready(self, timeout: float) -> None:
        if self.ready:
            return
        try:
            reply = self.control.reply(timeout=timeout)
        except (protocol.WorkerFailure, protocol.ProtocolError, EOFError, OSError) as failure:
            raise sandbox.SandboxError(
                f"the fork server did not start ({failure}): {self._output()}"
            ) from None
        if reply.get("ok") is not True:
            raise sandbox.SandboxError(f"the fork server did not start: {reply.get('error')}")
        self.ready = True

    def _output(self) -> str:
        text = self.output.text(limit=600).strip() if self.output else ""
        return text.replace("\n", " | ") or "no output"

    def fork(self, channel: socket.socket, output: socket.socket, *, timeout: float) -> None:
        """Fork a sandbox that talks on ``channel`` and writes to ``output`` (both closed here)."""
        with self._lock:
            try:
                self._ensure_started()
                self._wait_ready(timeout)
                self.control.send({"op": "fork"}, fds=(channel, output))
                reply = self.control.reply(timeout=sandbox.CONTROL_TIMEOUT)
            except (protocol.WorkerFailure, protocol.ProtocolError, EOFError) as failure:
                self._stop()
                raise sandbox.SandboxError(f"the fork server failed: {failure}") from None
            finally:
                channel.close()  # no-ops once the channel has sent them
                output.close()
        if reply.get("ok") is not True:
            raise sandbox.SandboxError(f"the fork server could not fork: {reply.get('error')}")

    def _stop(self) -> None:
        if self.control is not None:
            self.control.close()
            self.control = None
        if self._alive():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.ready = False

    def stop(self) -> None:
        with self._lock:
            self._stop()


_servers: dict[tuple, ForkServer] = {}
_servers_lock = threading.Lock()


def shared(*, preload: tuple[str, ...], hide: tuple[Path, ...]) -> ForkServer:
    """This process's fork server for ``preload`` and ``hide``, started if needed.

    Only paths inside a folder the view binds need hiding, so most callers share one server;
    a different Python, view or worker code (an upgrade) gets a new one.
    """
    hidden = tuple(sandbox.hidden_in_view(hide))
    bundle = hashlib.sha256(json.dumps(sandbox.module_bundle()).encode()).hexdigest()
    key = (tuple(preload), hidden, sys.executable, tuple(sandbox.interpreter_binds()), bundle)
    with _servers_lock:
        server = _servers.get(key)
        if server is None:
            for other in _servers.values():  # one warm server at a time: each holds ~0.5 GB
                other.stop()
            _servers.clear()
            server = _servers[key] = ForkServer(preload=tuple(preload), hide=hidden)
    server.start()
    return server


def server_pids() -> set[int]:
    """The pids of this process's fork servers (bubblewrap's; they never run student code)."""
    with _servers_lock:
        return {s.process.pid for s in _servers.values() if s.process is not None}


@atexit.register
def _stop_all() -> None:
    for server in list(_servers.values()):
        server.stop()
