"""build_model judged by what the model does: every correct style gets full marks, and a wrong
model dressed up to look right loses exactly the cases its disguise is about, both in otter's
way (real functions in this process) and through the harness (a real batch, real sandboxes)."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

from mnist_lab.assignment import cases_of_source
from mnist_lab.grading.batch import grade_batch
from mnist_lab.grading.config import GradingConfig
from mnist_lab.grading.grade import grade_in_process
from mnist_lab.grading.testfiles import autograder_sources

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


styles = _load("mnist_lab_tests_model_styles", HERE / "model_styles.py")
ALL = {**styles.CORRECT, **{name: source for name, (source, _) in styles.LIARS.items()}}


def failing_titles(name: str) -> set[str]:
    return styles.LIARS[name][1] if name in styles.LIARS else set()


def build_model_titles() -> list[str]:
    _, cases = cases_of_source(autograder_sources()["build_model"], "build_model.py")
    return [case.title for case in cases]


def assert_fails_exactly(lost: set[str], name: str, outputs: dict | None = None) -> None:
    expected = failing_titles(name)
    titles = build_model_titles()
    wanted = {t for t in titles if any(t.startswith(prefix) for prefix in expected)}
    assert all(any(t.startswith(p) for t in titles) for p in expected), expected
    assert lost == wanted, (name, {t: (outputs or {}).get(t, "")[:300] for t in lost ^ wanted})


def test_the_corpus_is_large_and_each_style_differs_from_the_reference_in_build_model_only():
    assert len(styles.CORRECT) >= 20
    reference = styles.REFERENCE.read_text(encoding="utf-8")
    for name, source in ALL.items():
        text = styles.submission_source(source)
        assert text != reference, name
        assert text.count("def build_model(") == 1, name
        compile(text, name, "exec")


@pytest.fixture(scope="module")
def batch_results(tmp_path_factory) -> dict[str, dict]:
    """Every style graded in one real batch (2 jobs), with build_model's test file only."""
    root = tmp_path_factory.mktemp("styles")
    tests = root / "tests"
    tests.mkdir()
    (tests / "build_model.py").write_text(autograder_sources()["build_model"], encoding="utf-8")
    shutil.copytree(REPO / "autograder" / "fixtures", root / "fixtures")
    inputs = root / "in"
    inputs.mkdir()
    for name, source in ALL.items():
        (inputs / f"{name}.py").write_text(styles.submission_source(source), encoding="utf-8")
    grade_batch(
        inputs=[inputs],
        out_dir=root / "out",
        jobs=2,
        tests_dir=tests,
        config=GradingConfig(time_limit=120, import_time=300),
    )
    return {
        name: json.loads((root / "out" / "results" / f"{name}.json").read_text("utf-8"))
        for name in ALL
    }


@pytest.mark.parametrize("name", sorted(ALL))
def test_harness_judges_the_model_by_what_it_does(batch_results, name):
    data = batch_results[name]
    assert "grader_error" not in data.get("extra_data", {}).get("mnist_lab", {}), data["output"]
    outputs = {
        test["name"].removeprefix("build_model: "): test["output"]
        for test in data["tests"]
        if test["score"] != test["max_score"]
    }
    assert_fails_exactly(set(outputs), name, outputs)


@pytest.fixture
def restored_modeldata():
    """A liar patches the module that describes models; in this process, put it back after."""
    from mnist_lab.grading import modeldata

    saved = dict(vars(modeldata))
    yield
    vars(modeldata).update(saved)


@pytest.mark.parametrize("name", sorted(ALL))
@pytest.mark.usefixtures("restored_modeldata")
def test_otter_way_judges_the_model_by_what_it_does(name, tmp_path):
    path = tmp_path / "digits.py"
    path.write_text(styles.submission_source(ALL[name]), encoding="utf-8")
    module = _load(f"mnist_lab_style_{name}", path)
    run = grade_in_process(
        vars(module), sources={"build_model": autograder_sources()["build_model"]}
    )
    lost = {case.name.removeprefix("build_model: ") for case in run.tests if not case.passed}
    assert_fails_exactly(lost, name)
