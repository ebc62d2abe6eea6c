"""``mnist-lab doctor``: which protections grading gets on this machine, checked for real.

It starts a real sandbox as grading would (forked from a fork server where every protection is
available; NumPy preloaded, not TensorFlow), runs a probe in it as if it were a student's code,
and compares what the probe saw with what each protection promises: another user, no other
process visible, no network, none of the hidden files readable. Every verdict is made here,
from the data the probe returned.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from mnist_lab.grading import forkserver, protocol, sandbox

PROBE = """
import os

def probe(paths):
    seen = {}
    for path in paths:
        try:
            os.listdir(path) if os.path.isdir(path) else open(path, "rb").close()
            seen[path] = True
        except OSError:
            seen[path] = False
    try:
        with open("/proc/self/net/dev") as devices:
            interfaces = [line.split(":")[0].strip() for line in devices.readlines()[2:]]
    except OSError:
        interfaces = []
    network = [name for name in interfaces if name != "lo"]
    processes = [p for p in os.listdir("/proc") if p.isdigit()]
    return {"uid": os.getuid(), "processes": len(processes), "readable": seen,
            "network": network, "home": os.path.expanduser("~")}
"""


@dataclass
class DoctorReport:
    protections: sandbox.Protections
    started: bool
    start_error: str = ""
    checks: list[tuple[str, bool, str]] = field(default_factory=list)  # (what, ok, detail)
    seconds: float = 0.0
    forked: bool = False  # the sandbox came from a fork server (see forkserver.py)

    @property
    def can_grade(self) -> bool:
        return self.started

    def to_text(self) -> str:
        lines = [self.protections.summary(), "", *self.protections.lines(), ""]
        if not self.started:
            lines.append(f"The sandbox did NOT start, so grading cannot run: {self.start_error}")
            return "\n".join(lines)
        how = (
            "forked from a warm fork server, as grading does here"
            if self.forked
            else "a fresh Python (no fork server: it needs every protection)"
        )
        lines.append(f"Checked from inside a real sandbox, {how} ({self.seconds:.1f} s):")
        for what, ok, detail in self.checks:
            lines.append(f"  [{'ok' if ok else '--'}] {what}: {detail}")
        return "\n".join(lines)


def _hidden_paths() -> list[str]:
    tests = Path(str(resources.files("mnist_lab.autograder"))) / "tests"
    return [str(path) for path in sandbox.protected_paths([tests])]


def run_doctor() -> DoctorReport:
    started = time.monotonic()
    protections = sandbox.protections()
    report = DoctorReport(protections=protections, started=False)
    server = None
    if protections.level == "full":  # as grade_submission does
        server = forkserver.shared(preload=("numpy",), hide=())
    report.forked = server is not None
    box = sandbox.Sandbox(
        files={"probe.py": PROBE},
        protections=protections,
        options=sandbox.SandboxOptions(preload=("numpy",), fork_server=server),
    )
    try:
        box.start(timeout=60)
        channel = box.open_session()
        load = {
            "op": "load",
            "module_name": "probe",
            "path": "probe.py",
            "chunks": [PROBE],
            "tolerate_errors": False,
            "chunk_time_limit": None,
        }
        channel.request(load, timeout=60)
        paths = _hidden_paths()
        call = {
            "op": "call",
            "name": "probe",
            "args": protocol.encode_value((paths,)),
            "kwargs": protocol.encode_value({}),
        }
        reply = channel.request(call, timeout=60)
        seen = protocol.decode_value(reply["value"])
        report.started = True
        report.checks = _verdicts(seen, paths)
    except (sandbox.SandboxError, protocol.WorkerFailure, EOFError, KeyError, TypeError) as error:
        report.start_error = str(error) or type(error).__name__
    finally:
        box.close()
    report.seconds = time.monotonic() - started
    return report


def _verdicts(seen: dict, paths: list[str]) -> list[tuple[str, bool, str]]:
    readable = [path for path, ok in seen["readable"].items() if ok]
    return [
        (
            "another user than the grader",
            seen["uid"] != os.geteuid(),
            f"the worker runs as uid {seen['uid']}",
        ),
        (
            "no other process visible",
            seen["processes"] <= 3,
            f"{seen['processes']} processes in the worker's /proc",
        ),
        (
            "no network",
            not seen["network"],
            "only the loopback interface"
            if not seen["network"]
            else "network interfaces: " + ", ".join(seen["network"][:4]),
        ),
        (
            "tests, fixtures and solutions out of reach",
            not readable,
            "none readable" if not readable else "readable: " + ", ".join(readable[:4]),
        ),
    ]
