"""autograder.zip on a bare Debian system, run the way Gradescope runs it.

A Debian 12 root filesystem made by ``debootstrap --variant=minbase`` (nothing but Debian's
required packages: no Python) gets ``/autograder/source`` (the unzipped autograder.zip), then, in
a chroot as root, Gradescope's image build step (``apt-get update && bash setup.sh``) once; then
for each submission ``/autograder/submission``, an empty ``/autograder/results`` and
``/autograder/run_autograder``, whose ``results.json`` is checked: the reference gets full
marks, the stubs 0, and stubs that forge results files get 0 with the grader's own results, graded
without namespaces (as where a container forbids them) while the worker's user can read no test
and no fixture.

The one test module that uses the network: setup.sh installs from deb.debian.org and PyPI, which
is what it proves. It needs root (chroot, mounts) and debootstrap (.ci/run installs it). The
root filesystem is cached as a tarball under ``~/.cache/mnist-lab/`` (``$XDG_CACHE_HOME``) per
release, variant and architecture; with ``CI=true`` it is built afresh. Run with ``-s`` to see
how long each step took.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import pytest

from mnist_lab.grading import sandbox
from mnist_lab.grading.grade import load_cases
from mnist_lab.grading.package import GRADESCOPE_VENV, write_autograder

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]

RELEASE = "bookworm"  # Debian 12
VARIANT = "minbase"
MIRROR = "http://deb.debian.org/debian"
HOSTILE = Path(__file__).parent / "hostile"
# The host's trusted certificates, for pip behind a TLS-inspecting proxy (this workplace's);
# elsewhere they are the usual public roots. Only setup.sh gets them, through PIP_CERT.
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
CA_IN_ROOT = "/usr/local/share/mnist-lab-test/host-ca.crt"
# What a process started by Gradescope finds in its environment (nothing of this machine's).
CLEAN_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    "LANG": "C.UTF-8",
}
SETUP_SECONDS = 1800
IMAGE_SIZE = "8g"  # the tmpfs the image lives on (a limit: it holds about 2.5 GB)
GRADING_SECONDS = 600


def host_architecture() -> str:
    return subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    ).stdout.strip()


def rootfs_cache() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "mnist-lab" / f"debian-{RELEASE}-{VARIANT}-{host_architecture()}.tar"


def run_logged(argv: list[str], *, timeout: float, env: dict[str, str] | None = None) -> str:
    """Run ``argv`` in its own process group (all of it is killed on timeout); its output."""
    process = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        pytest.fail(f"{argv[:4]} took more than {timeout:.0f} s:\n{output[-4000:]}")
    if process.returncode != 0:
        pytest.fail(f"{argv[:4]} exited with {process.returncode}:\n{output[-4000:]}")
    return output


def make_rootfs(root: Path, timings: dict[str, float]) -> None:
    """A bare Debian in ``root``: from the cached tarball, else with debootstrap."""
    cache = rootfs_cache()
    started = time.monotonic()
    if cache.is_file() and os.environ.get("CI") != "true":
        run_logged(["tar", "-xpf", str(cache), "--numeric-owner", "-C", str(root)], timeout=600)
        timings["root filesystem from the cache"] = time.monotonic() - started
        return
    run_logged(["debootstrap", f"--variant={VARIANT}", RELEASE, str(root), MIRROR], timeout=1800)
    timings["debootstrap"] = time.monotonic() - started
    if os.environ.get("CI") != "true":
        cache.parent.mkdir(parents=True, exist_ok=True)
        partial = cache.with_suffix(".partial")
        started = time.monotonic()
        run_logged(
            ["tar", "-cf", str(partial), "--numeric-owner", "-C", str(root), "."], timeout=600
        )
        os.replace(partial, cache)
        timings["root filesystem cached"] = time.monotonic() - started


def mounts_under(root: Path) -> list[str]:
    root = root.resolve()
    with open("/proc/self/mountinfo", encoding="utf-8") as mountinfo:
        points = [line.split()[4] for line in mountinfo]
    return [point for point in points if point == str(root) or point.startswith(f"{root}/")]


def mount(*argv: str | Path) -> None:
    subprocess.run(["mount", *map(str, argv)], check=True, capture_output=True, timeout=60)


@contextlib.contextmanager
def in_memory(root: Path) -> Iterator[None]:
    """``root`` on a tmpfs of its own, and everything under it unmounted in every case.

    Its own mount point, as a container's root is (bubblewrap can then pivot into a root of its
    own); and gone at once when unmounted, where deleting TensorFlow's files took a minute.
    """
    root.mkdir()
    try:
        mount("-t", "tmpfs", "-o", f"size={IMAGE_SIZE},mode=755", "tmpfs", root)
        mount("--make-private", root)
        yield
    finally:
        if mounts_under(root):
            done = subprocess.run(["umount", "-R", str(root)], capture_output=True, timeout=60)
            if done.returncode != 0:  # a process still inside: detach now, freed when it ends
                subprocess.run(["umount", "-R", "-l", str(root)], capture_output=True, timeout=60)
        left = mounts_under(root)
        assert not left, f"still mounted: {left}"
        root.rmdir()


def mount_system(root: Path) -> None:
    """/proc, /dev (with a /dev/shm of its own) and /sys in ``root``, as a container has them."""
    mount("-t", "proc", "proc", root / "proc")
    mount("--bind", "/dev", root / "dev")
    mount("-t", "tmpfs", "-o", "mode=1777", "tmpfs", root / "dev" / "shm")
    mount("--rbind", "/sys", root / "sys")
    mount("--make-rslave", root / "sys")  # unmounting the chroot's /sys never touches the host's


def compose(name: str, **placeholders: str) -> str:
    """A hostile submission: the base its snippet names (hostile/README.md), then the snippet."""
    snippet = (HOSTILE / f"{name}.py").read_text(encoding="utf-8")
    kind = snippet.splitlines()[0].removeprefix("# base:").strip()
    package = "mnist_lab.solutions" if kind == "reference" else "mnist_lab.exercises"
    for key, value in placeholders.items():
        snippet = snippet.replace(f"@{key}@", value)
    base = resources.files(package).joinpath("digits.py").read_text(encoding="utf-8")
    return base + "\n\n" + snippet


@dataclass
class Image:
    """The built autograder image: a chroot where setup.sh has run."""

    root: Path
    timings: dict[str, float] = field(default_factory=dict)

    def chroot(self, script: str, *, timeout: float, env: dict[str, str] | None = None) -> str:
        argv = ["chroot", str(self.root), "/bin/bash", "-c", script]
        return run_logged(argv, timeout=timeout, env={**CLEAN_ENV, **(env or {})})

    def grade(self, label: str, source: str, *, env: dict[str, str] | None = None) -> dict:
        """Gradescope's run: a fresh submission and results folder, then run_autograder."""
        autograder = self.root / "autograder"
        for folder in ("submission", "results"):
            shutil.rmtree(autograder / folder, ignore_errors=True)
            (autograder / folder).mkdir()
        (autograder / "submission" / "digits.py").write_text(source, encoding="utf-8")
        started = time.monotonic()
        self.chroot(
            "cd /autograder && /autograder/run_autograder", timeout=GRADING_SECONDS, env=env
        )
        self.timings[f"run_autograder: {label}"] = time.monotonic() - started
        return json.loads((autograder / "results" / "results.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_autograder(out_dir=tmp_path_factory.mktemp("zip"))


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory, autograder_zip: Path) -> Iterator[Image]:
    if not sandbox.running_as_root():
        pytest.skip("needs root: a chroot with /proc, /dev and /sys mounted")
    if shutil.which("debootstrap") is None or shutil.which("chroot") is None:
        pytest.skip("debootstrap is not installed (apt-get install debootstrap; .ci/run does)")
    work = tmp_path_factory.mktemp("gradescope-image")
    image = Image(work / "root")
    try:
        with in_memory(image.root):
            make_rootfs(image.root, image.timings)
            lay_out_source(image.root, autograder_zip)
            setup_env = trust_host_certificates(image.root)
            mount_system(image.root)
            # Gradescope's image build: run_autograder copied next to source, then setup.sh.
            started = time.monotonic()
            image.chroot(
                "cp /autograder/source/run_autograder /autograder/run_autograder"
                " && chmod +x /autograder/run_autograder"
                " && apt-get update -q && bash /autograder/source/setup.sh",
                timeout=SETUP_SECONDS,
                env=setup_env,
            )
            image.timings["setup.sh (with apt-get update)"] = time.monotonic() - started
            yield image
    finally:
        for step, seconds in image.timings.items():
            print(f"gradescope image: {step}: {seconds:.1f} s")


def lay_out_source(root: Path, autograder_zip: Path) -> None:
    """/autograder as Gradescope makes it: the zip unpacked into source/, empty submission/ and
    results/, the submission's metadata; and the host's name servers."""
    autograder = root / "autograder"
    with zipfile.ZipFile(autograder_zip) as archive:
        archive.extractall(autograder / "source")
    for folder in ("submission", "results"):
        (autograder / folder).mkdir()
    (autograder / "submission_metadata.json").write_text("{}\n", encoding="utf-8")
    shutil.copyfile("/etc/resolv.conf", root / "etc" / "resolv.conf")


def trust_host_certificates(root: Path) -> dict[str, str]:
    """The host's CA bundle in ``root`` for pip (PIP_CERT); the environment setup.sh gets."""
    if not HOST_CA_BUNDLE.is_file():
        return {}
    copy = root / CA_IN_ROOT.lstrip("/")
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(HOST_CA_BUNDLE, copy)
    return {"PIP_CERT": CA_IN_ROOT}


def expected_cases(autograder_zip: Path, tmp_path: Path) -> list:
    with zipfile.ZipFile(autograder_zip) as archive:
        names = [n for n in archive.namelist() if n.startswith("tests/")]
        archive.extractall(tmp_path, members=names)
    return sorted(load_cases(tmp_path / "tests"), key=lambda case: case.order)  # reported order


def assert_graded(results: dict, cases: list) -> None:
    """results.json is the grader's, with every case of the zip and no grader error."""
    assert [test["name"] for test in results["tests"]] == [case.name for case in cases]
    assert [test["max_score"] for test in results["tests"]] == [case.points for case in cases]
    assert results["score"] == pytest.approx(sum(test["score"] for test in results["tests"]))
    assert "grader_error" not in results["extra_data"]["mnist_lab"]


def test_setup_installs_from_registries_into_a_venv_every_user_can_reach(image: Image) -> None:
    python = f"{GRADESCOPE_VENV}/bin/python"
    # apt's Python (no conda, no browser download), in folders every user may enter.
    assert image.chroot(f"readlink -f {python}", timeout=60).strip().startswith("/usr/bin/python3")
    for folder in list(Path(python).parents)[:-1]:
        assert os.stat(image.root / str(folder).lstrip("/")).st_mode & 0o005 == 0o005, folder
    for unwanted in ("root/miniforge3", "root/.cache/ms-playwright", "opt/conda"):
        assert not (image.root / unwanted).exists(), unwanted
    freeze = image.chroot(f"{python} -m pip freeze", timeout=120).splitlines()
    pins = (image.root / "autograder/source/requirements.txt").read_text(encoding="utf-8")
    pinned = [line.replace("[grading]", "") for line in pins.splitlines() if "==" in line]
    assert len(pinned) == 4
    assert set(pinned) <= set(freeze)
    assert (image.root / "usr/bin/bwrap").is_file()


def test_the_reference_gets_full_marks(image: Image, autograder_zip: Path, tmp_path: Path) -> None:
    cases = expected_cases(autograder_zip, tmp_path)
    reference = resources.files("mnist_lab.solutions").joinpath("digits.py").read_text("utf-8")
    results = image.grade("reference", reference)
    assert_graded(results, cases)
    assert results["score"] == sum(case.points for case in cases)
    # The bare system's sandbox is as strong as this machine's: bubblewrap came from apt.
    host = sandbox.protections()
    recorded = results["extra_data"]["mnist_lab"]["sandbox"]
    assert (recorded["namespaces"], recorded["cgroup"]) == (host.namespaces, host.cgroup)
    assert recorded["separate_user"]


def test_the_stubs_get_zero(image: Image, autograder_zip: Path, tmp_path: Path) -> None:
    cases = expected_cases(autograder_zip, tmp_path)
    stubs = resources.files("mnist_lab.exercises").joinpath("digits.py").read_text("utf-8")
    results = image.grade("stubs", stubs)
    assert_graded(results, cases)
    assert results["score"] == 0
    assert all("not written yet" in test["output"] for test in results["tests"])


def test_forged_results_change_nothing_without_namespaces(
    image: Image, autograder_zip: Path, tmp_path: Path
) -> None:
    """Where a container forbids namespaces the worker sees the real /autograder: it can write
    neither the results nor read the tests, the fixture or the wheel."""
    cases = expected_cases(autograder_zip, tmp_path)
    forged = compose(
        "forged_results",
        RESULTS_PATH="/autograder/results/results.json",
        RESULTS_DIR="/autograder/results",
    )
    no_namespaces = {sandbox.MODE_VARIABLE: "no-namespaces"}
    results = image.grade("forged results, no namespaces", forged, env=no_namespaces)
    assert_graded(results, cases)
    assert results["score"] == 0
    recorded = results["extra_data"]["mnist_lab"]["sandbox"]
    assert (recorded["namespaces"], recorded["separate_user"]) == (False, True)
    # What the worker's user (any uid but root) can read after run_autograder: nothing secret,
    # yet it can run the venv's Python.
    uid = str(sandbox.WORKER_UID_RANGE[1] + 1)
    output = image.chroot(
        f"setpriv --reuid {uid} --regid {uid} --clear-groups "
        f'{GRADESCOPE_VENV}/bin/python -I -c "$PROBE"',
        timeout=120,
        env={"PROBE": READ_PROBE.replace("@VENV@", GRADESCOPE_VENV)},
    )
    report = json.loads(output.strip().splitlines()[-1])
    assert len(report["secret"]) == 2, report  # the zip's folder and mnist-lab's installed files
    assert report["readable"] == [], report


# Run as another user: which of the secret folders and files it can list or read.
READ_PROBE = """
import glob, json, os
import numpy  # the venv's packages are usable

secret = ["/autograder/source", *glob.glob("@VENV@/lib/python3*/site-packages/mnist_lab")]
readable = []
for top in secret:
    for path in [top, *glob.glob(top + "/**", recursive=True)]:
        try:
            os.listdir(path) if os.path.isdir(path) else open(path, "rb").close()
            readable.append(path)
        except OSError:
            pass
print(json.dumps({"secret": secret, "readable": readable}))
"""
