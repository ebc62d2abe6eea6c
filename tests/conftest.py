"""Fixtures shared by the whole suite."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
# The full MNIST file the workplace provides beside the checkout (never needed by the product).
FULL_MNIST = REPO_ROOT.parent / "shared" / "data" / "mnist.npz"
# The headless browser of the browser tests (quiz pages, feedback pages): Debian's Chromium driven
# by Playwright (no browser download). Without the background-networking flags Chromium keeps
# trying to reach the (closed) network.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(autouse=True)
def offline_and_isolated(monkeypatch: pytest.MonkeyPatch, tmp_path_factory) -> None:
    """No test touches the network or the developer's Keras cache, and none runs in the
    checkout: a release the quick start built there (mnist-lab-release/) would become every
    `mnist-lab grade`'s default tests."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
    monkeypatch.setenv("KERAS_HOME", str(home / ".keras"))
    monkeypatch.setenv("MNIST_LAB_OFFLINE", "1")
    monkeypatch.delenv("MNIST_NPZ", raising=False)
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture
def full_mnist() -> Path:
    """The full MNIST file, or a skip saying why it is absent."""
    if not FULL_MNIST.is_file():
        pytest.skip(f"full MNIST data not found at {FULL_MNIST} (only present in the workplace)")
    return FULL_MNIST


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api")
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium; .ci/run does)")
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


AXE_ENV = "MNIST_LAB_AXE_JS"


@pytest.fixture(scope="session")
def axe_source(repo_root: Path) -> str:
    """axe-core's axe.min.js, injected into pages for the accessibility checks."""
    candidates = [os.environ.get(AXE_ENV), repo_root / "node_modules/axe-core/axe.min.js"]
    # The test extra installs axe-playwright-python, whose wheel carries axe-core's axe.min.js.
    bundled = importlib.util.find_spec("axe_playwright_python")
    if bundled is not None and bundled.origin:
        candidates.append(Path(bundled.origin).with_name("axe.min.js"))
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate).read_text("utf-8")
    pytest.skip(
        f"axe-core not found: pip install axe-playwright-python (the test extra does), set "
        f"{AXE_ENV} to axe.min.js, or run `npm install axe-core@4` in {repo_root}"
    )
