"""Running the student notebook with nbclient: the reference solution, the stubs, broken code."""

from __future__ import annotations

import base64
import itertools
import os
import re
import subprocess
import time
from pathlib import Path

import nbformat
import pytest

from mnist_lab.notebook import NOTEBOOK_NAME, NotebookExecutionError, write_notebook
from mnist_lab.notebook.write import (
    KERNEL_NAME,
    _kernel_environment,
    _kernel_manager_class,
    _prepare_folder,
    student_notebook,
)

from .conftest import solution_text, stubs_text

pytestmark = pytest.mark.slow

ANSI = re.compile(r"\x1b\[[0-9;]*m")
MAX_STOP_LINES = 12  # a clear message, not a traceback


def text_of(cell) -> str:
    parts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            parts.append(output.text)
        elif "data" in output:
            parts.append(output.data.get("text/plain", ""))
    return "".join(parts)


def png_sizes(notebook) -> list[tuple[int, int]]:
    sizes = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            png = output.get("data", {}).get("image/png")
            if png:
                raw = base64.b64decode(png)
                assert raw[:8] == b"\x89PNG\r\n\x1a\n"
                sizes.append((int.from_bytes(raw[16:20], "big"), int.from_bytes(raw[20:24], "big")))
    return sizes


def check_cell(notebook, function: str) -> int:
    return next(
        index
        for index, cell in enumerate(notebook.cells)
        if f'grader.check("{function}")' in cell.source
    )


def stop_lines(error: NotebookExecutionError) -> list[str]:
    return [ANSI.sub("", line) for line in error.traceback]


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """The instructor's copy as the build makes it: defaults (reference solution, public checks)."""
    out = tmp_path_factory.mktemp("executed") / "mnist_digits_solution.ipynb"
    # Its speed (well under two minutes) is measured by benchmarks/bench_grading.py, not here.
    write_notebook(out_path=out, executed=True)
    return nbformat.read(out, as_version=4), out


def test_reference_solution_runs_top_to_bottom(executed) -> None:
    notebook, _ = executed
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.execution_count is not None for cell in code)
    assert not [o for cell in code for o in cell.outputs if o.output_type == "error"]
    assert notebook.metadata.kernelspec.name == "python3"


def test_executed_notebook_shows_the_key_results(executed) -> None:
    notebook, _ = executed
    everything = "\n".join(text_of(cell) for cell in notebook.cells)
    for function in ("normalize", "flatten", "build_model", "confusion", "predict_digit"):
        passed = text_of(notebook.cells[check_cell(notebook, function)])
        assert re.fullmatch(
            rf"✅ {function}: (1 public check|all \d+ public checks) passed\.\n", passed
        )
    assert "Total: 101,770 parameters" in everything
    accuracy = re.search(r"Test accuracy: (\d+\.\d+)% on 2,000 test images", everything)
    assert accuracy, "no test accuracy line"
    assert float(accuracy[1]) > 85.0
    assert re.search(r"^ValueError: .*\(28, 28, 3\)", everything, flags=re.MULTILINE)
    assert re.search(r"^a \d taken for a \d: \d+ times", everything, flags=re.MULTILINE)


def test_executed_notebook_has_all_its_figures(executed) -> None:
    notebook, _ = executed
    sizes = png_sizes(notebook)
    # sample digits, histograms, flatten, curves, confusion matrix, misclassified, predictions
    assert len(sizes) >= 7
    assert all(width >= 500 and height >= 200 for width, height in sizes), sizes


def test_untouched_stubs_stop_at_the_first_check_with_a_short_message(
    tmp_path: Path, public_tests_dir: Path, digits_folder
) -> None:
    out = tmp_path / NOTEBOOK_NAME
    with pytest.raises(NotebookExecutionError) as caught:
        write_notebook(
            out_path=out,
            executed=True,
            digits_dir=digits_folder(stubs_text()),
            tests_dir=public_tests_dir,
        )
    error = caught.value
    notebook = error.notebook
    assert error.cell_index == check_cell(notebook, "normalize")
    assert error.ename == "StopHere"
    lines = stop_lines(error)
    assert 2 <= len(lines) <= 4, lines
    message = "\n".join(lines)
    assert "normalize is not written yet" in message
    assert "NotImplementedError" in message
    assert "digits.py" in message
    later = notebook.cells[error.cell_index + 1 :]
    assert all(c.execution_count is None for c in later if c.cell_type == "code")
    assert not out.exists()


def test_a_failing_check_stops_at_that_function(
    tmp_path: Path, public_tests_dir: Path, digits_folder
) -> None:
    answer = "    return images.reshape(images.shape[0], NUM_PIXELS)\n"
    assert answer in solution_text()
    broken = solution_text().replace(answer, "    return images\n")  # forgets to flatten
    with pytest.raises(NotebookExecutionError) as caught:
        write_notebook(
            out_path=tmp_path / NOTEBOOK_NAME,
            executed=True,
            digits_dir=digits_folder(broken),
            tests_dir=public_tests_dir,
        )
    error = caught.value
    notebook = error.notebook
    assert error.cell_index == check_cell(notebook, "flatten")
    assert text_of(notebook.cells[check_cell(notebook, "normalize")]).startswith("✅ normalize")
    lines = stop_lines(error)
    assert len(lines) <= MAX_STOP_LINES, lines
    assert lines[1].startswith("flatten: ")
    assert "NotImplementedError" not in "\n".join(lines)
    assert not any(line.lstrip().startswith('File "') for line in lines)


def test_a_syntax_error_in_digits_stops_the_setup_cell_naming_the_line(
    tmp_path: Path, public_tests_dir: Path, digits_folder
) -> None:
    broken = solution_text().replace("def normalize(images):", "def normalize(images:", 1)
    line = broken.splitlines().index("def normalize(images:") + 1
    with pytest.raises(NotebookExecutionError) as caught:
        write_notebook(
            out_path=tmp_path / NOTEBOOK_NAME,
            executed=True,
            digits_dir=digits_folder(broken),
            tests_dir=public_tests_dir,
        )
    error = caught.value
    first_code = next(i for i, c in enumerate(error.notebook.cells) if c.cell_type == "code")
    assert error.cell_index == first_code
    lines = stop_lines(error)
    assert len(lines) <= 4, lines
    assert f"digits.py has a syntax error on line {line}" in lines[1]


def test_saving_a_fix_and_rerunning_the_check_cell_goes_on(
    tmp_path: Path, public_tests_dir: Path, digits_folder
) -> None:
    """The student's loop: the check stops, they write normalize, save, run the check again."""
    from nbclient import NotebookClient

    folder = tmp_path / "student"
    folder.mkdir()
    _prepare_folder(folder, digits_dir=digits_folder(stubs_text()), tests_dir=public_tests_dir)
    notebook = student_notebook()
    check = check_cell(notebook, "normalize")
    client = NotebookClient(
        notebook,
        kernel_manager_class=_kernel_manager_class(tmp_path / "kernels"),
        kernel_name=KERNEL_NAME,
        timeout=120,
        allow_errors=True,
        resources={"metadata": {"path": str(folder)}},
    )
    with client.setup_kernel(env=_kernel_environment(folder), stderr=subprocess.DEVNULL):
        for index in range(check + 1):
            client.execute_cell(notebook.cells[index], index)
        assert [o.output_type for o in notebook.cells[check].outputs] == ["error"]

        module = folder / "digits.py"
        module.write_text(solution_text(), "utf-8")
        later = module.stat().st_mtime + 2  # a save the reloader cannot miss
        os.utime(module, (later, later))
        notebook.cells[check].outputs = []
        client.execute_cell(notebook.cells[check], check)
        client.execute_cell(notebook.cells[check + 1], check + 1)

    assert text_of(notebook.cells[check]).startswith("✅ normalize")
    after = notebook.cells[check + 1]
    assert not [o for o in after.outputs if o.output_type == "error"]
    assert "after:  dtype float64, values 0.0 to 1.0" in text_of(after)


@pytest.mark.full_data
def test_without_the_sample_the_data_cell_uses_keras_cache_or_stops_clearly(
    tmp_path: Path, public_tests_dir: Path, full_mnist: Path
) -> None:
    """Offline and without data/, the notebook never tries a download: it says what to do."""
    from nbclient import NotebookClient

    folder = tmp_path / "student"
    folder.mkdir()
    _prepare_folder(folder, digits_dir=None, tests_dir=public_tests_dir)
    (folder / "data" / "mnist_sample.npz").unlink()
    notebook = student_notebook()
    setup, loader = [i for i, c in enumerate(notebook.cells) if c.cell_type == "code"][:2]
    assert "USE_FULL_MNIST = False" in notebook.cells[loader].source
    client = NotebookClient(
        notebook,
        kernel_manager_class=_kernel_manager_class(tmp_path / "kernels"),
        kernel_name=KERNEL_NAME,
        timeout=60,
        allow_errors=True,
        resources={"metadata": {"path": str(folder)}},
    )
    env = _kernel_environment(folder)
    with client.setup_kernel(env=env, stderr=subprocess.DEVNULL):
        client.execute_cell(notebook.cells[setup], setup)
        client.execute_cell(notebook.cells[loader], loader)
        (error,) = notebook.cells[loader].outputs
        lines = [ANSI.sub("", line) for line in error.traceback]
        assert error.ename == "StopHere"
        assert len(lines) <= 4
        assert "data/mnist_sample.npz was not found" in lines[1]
        assert "USE_FULL_MNIST = True" in lines[2]

        cache = Path(env["KERAS_HOME"]) / "datasets" / "mnist.npz"
        cache.parent.mkdir(parents=True)
        cache.symlink_to(full_mnist)
        notebook.cells[loader].outputs = []
        client.execute_cell(notebook.cells[loader], loader)

    shown = text_of(notebook.cells[loader])
    assert "Data: the full MNIST data set" in shown
    assert "Training images: (60000, 28, 28)" in shown


def test_a_cell_that_runs_too_long_is_stopped_and_named(
    tmp_path: Path, public_tests_dir: Path, digits_folder
) -> None:
    hanging = "import time\n\ntime.sleep(600)\n" + solution_text()  # digits.py hangs on import
    out = tmp_path / NOTEBOOK_NAME
    started = time.perf_counter()
    with pytest.raises(
        NotebookExecutionError, match=r"cell 2 \(cell-02\): a cell ran longer than 8 s"
    ):
        write_notebook(
            out_path=out,
            executed=True,
            digits_dir=digits_folder(hanging),
            tests_dir=public_tests_dir,
            timeout=8,
        )
    assert time.perf_counter() - started < 45
    assert not out.exists()


def test_executing_twice_gives_the_same_bytes(executed, tmp_path: Path) -> None:
    """Fixed seed, deterministic ops, no timings in the outputs: the build is repeatable."""
    _, first = executed
    second = write_notebook(out_path=tmp_path / "again.ipynb", executed=True)
    assert first.read_bytes() == second.read_bytes()


def test_printed_text_is_one_output_per_stream_however_the_kernel_flushed_it(executed) -> None:
    """The kernel flushes stdout on a timer; split outputs would make the bytes depend on load."""
    notebook, _ = executed
    training = next(cell for cell in notebook.cells if "EPOCHS = 5" in cell.source)
    (epochs,) = [output for output in training.outputs if output.output_type == "stream"]
    assert len(epochs.text.splitlines()) == 5
    for cell in notebook.cells:
        kinds = [(o.output_type, o.get("name")) for o in cell.get("outputs", [])]
        adjacent = [a for a, b in itertools.pairwise(kinds) if a == b and a[0] == "stream"]
        assert adjacent == [], cell.id


def test_split_stream_outputs_are_merged_in_order() -> None:
    from mnist_lab.notebook.write import _merge_streams

    stream = nbformat.v4.new_output
    cell = nbformat.v4.new_code_cell("print(...)")
    cell.outputs = [
        stream("stream", name="stdout", text="dense: 1\n"),
        stream("stream", name="stdout", text="dense_1: 2\n"),
        stream("stream", name="stderr", text="warning\n"),
        stream("stream", name="stdout", text="Total: 3\n"),
        stream("display_data", data={"text/plain": "plot"}),
        stream("stream", name="stdout", text="after\n"),
    ]
    notebook = nbformat.v4.new_notebook(cells=[cell, nbformat.v4.new_markdown_cell("text")])
    _merge_streams(notebook)
    assert [(o.output_type, o.get("name"), o.get("text")) for o in cell.outputs] == [
        ("stream", "stdout", "dense: 1\ndense_1: 2\n"),
        ("stream", "stderr", "warning\n"),
        ("stream", "stdout", "Total: 3\n"),
        ("display_data", None, None),
        ("stream", "stdout", "after\n"),
    ]
