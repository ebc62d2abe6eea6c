"""Running the student notebook with nbclient: the reference solution, the stubs, broken code."""

from __future__ import annotations

import base64
import itertools
import math
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
# digits, histograms, flatten, curves, probabilities, predictions, confusion matrix, mistakes,
# over-fitting curves, the experiment's curves
FIGURES = 10


def stderr_of(notebook) -> list[tuple[int, str]]:
    """(cell index, text) of everything a notebook shows in pink stderr boxes."""
    return [
        (index, output.text)
        for index, cell in enumerate(notebook.cells)
        for output in cell.get("outputs", [])
        if output.output_type == "stream" and output.name == "stderr"
    ]


def printed(notebook) -> str:
    return "\n".join(text_of(cell) for cell in notebook.cells)


def number(pattern: str, text: str) -> float:
    """The number captured by ``pattern`` in ``text`` (a percentage as a fraction)."""
    found = re.search(pattern, text, flags=re.MULTILINE)
    assert found, f"not in the output: {pattern}"
    value = found[1].replace(",", "")
    return float(value.rstrip("%")) / 100 if value.endswith("%") else float(value)


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


def test_the_executed_copy_shows_no_stderr_like_a_students(executed, tmp_path: Path) -> None:
    """The build runs a kernel as students do, so its copy shows what they would see."""
    from ipykernel.kernelspec import get_kernel_dict

    notebook, _ = executed
    assert stderr_of(notebook) == []
    manager = _kernel_manager_class(tmp_path / "kernels")()
    assert manager.kernel_spec.argv == get_kernel_dict()["argv"]


def test_check_cells_list_every_public_check_with_a_summary(executed) -> None:
    notebook, _ = executed
    for function in ("normalize", "flatten", "build_model", "predict_digit", "confusion"):
        shown = text_of(notebook.cells[check_cell(notebook, function)])
        summary = re.match(rf"✅ {function}: (\d+) of (\d+) public checks? passed\n", shown)
        assert summary, shown
        assert summary[1] == summary[2]
        titles = re.findall(r"^   ✓ (\S.+)$", shown, flags=re.MULTILINE)
        assert len(titles) == int(summary[1]), shown
        assert f"{function} - " not in shown  # the case's own title, not otter's "name - 1"


def test_executed_notebook_shows_the_key_results(executed) -> None:
    notebook, _ = executed
    everything = printed(notebook)
    assert "Total: 101,770 parameters" in everything
    assert "5 epochs of 282 batches each" in everything
    assert number(r"^test images +2,000 .* (\S+%) +\S+%$", everything) > 0.85
    assert re.search(r"^ +→ ValueError: .*\(28, 28, 3\)", everything, flags=re.MULTILINE)
    assert re.search(r"^an? \d taken for an? \d: \d+ times", everything, flags=re.MULTILINE)
    assert not re.search(r"\ba 8\b", everything)  # "an 8"


def test_the_printed_results_bear_out_the_notebook_text(executed) -> None:
    """Every claim the "What to look at" notes make about the results holds in the output."""
    notebook, _ = executed
    out = printed(notebook)
    # section 6: an untrained model starts near ln 10, at the level of guessing
    untrained = number(r"untrained model on all .* loss (\d+\.\d+)", out)
    assert abs(untrained - math.log(10)) < 0.3
    assert 0.05 < number(r"untrained model on all .* accuracy (\d+\.\d+%)", out) < 0.15
    # section 7: in epoch 1 the epoch average is below the end-of-epoch validation accuracy
    first = re.search(r"epoch  1/5: .*accuracy (\S+%) \| .*accuracy (\S+%)", out)
    assert float(first[1].rstrip("%")) < float(first[2].rstrip("%"))
    # section 8: the final model beats the epoch average; evaluate equals Keras's validation
    keras_train = number(r"last epoch: training accuracy (\S+%)", out)
    keras_val = number(r"validation accuracy (\S+%)$", out)
    final_train = number(r"^training images \(learned from\) .* (\S+%) +\S+%$", out)
    final_val = number(r"^validation images .* (\S+%) +\S+%$", out)
    test = number(r"^test images .* (\S+%) +\S+%$", out)
    assert final_train > keras_train
    assert final_val == keras_val
    assert test < final_val < final_train
    # section 9: a batch of one gives (1, 10); argmax without axis is a flat position
    assert "input (1, 784) -> output (1, 10)" in out
    assert re.search(r"np.argmax\(three, axis=1\) = \[\d \d \d\]", out)
    flat = int(number(r"np.argmax\(three\) = (\d+)", out))
    assert f"(row {flat // 10}, digit {flat % 10})" in out
    # section 12: the same seed repeats section 7's five epochs
    section7 = re.findall(r"^epoch  (\d)/5: (.*)$", out, flags=re.MULTILINE)[:5]
    for epoch, numbers in section7:
        assert f"epoch  {epoch}/20: {numbers}" in out
    # section 10: every wrong shape fails except the silent reshape(-1, 784)
    outcomes = dict(re.findall(r"^(\S.*)\n   → (.*)$", out, flags=re.MULTILINE))
    assert outcomes["predict_digit(model, colour_image)"].startswith("ValueError: predict_digit")
    assert outcomes["colour_image.reshape(1, 784)"] == (
        "ValueError: cannot reshape array of size 2352 into shape (1,784)"
    )
    assert not outcomes["model.predict(normalize(colour_image).reshape(1, -1))"].startswith("no")
    assert not outcomes["model.predict(normalize(grey_image)[np.newaxis])"].startswith("no")
    assert outcomes["model.predict(normalize(colour_image).reshape(-1, 784))"] == (
        "no error: an array of shape (3, 10)"
    )
    assert outcomes["predict_digit(model, grey_image)"].startswith("no error: ")
    truth = int(number(r"^true digit (\d)$", out))
    assert number(r"colour image turned grey: +predict_digit says (\d)", out) == truth
    assert number(r"inverted back: +predict_digit says (\d)", out) == truth
    # section 12: the validation loss is lowest before the end; training learns by heart
    assert number(r"lowest validation loss: after epoch (\d+)", out) < 15
    assert number(r"after 20 epochs: training accuracy (\S+%)", out) > 0.995
    # section 13: the experiment with its settings unchanged repeats section 8 exactly
    again = re.search(r"final model: (training accuracy \S+, test accuracy \S+)", out)
    assert f"section 8:   {again[1]}" in out


def test_executed_notebook_has_all_its_figures(executed) -> None:
    notebook, _ = executed
    sizes = png_sizes(notebook)
    assert len(sizes) >= FIGURES
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
    assert re.fullmatch(r"flatten: (\d) of (\d) public checks passed, \d failed:", lines[1])
    assert "  ✗ returns one row of 784 values per image" in lines  # the case's title
    assert any(line.startswith("  ✓ ") for line in lines)  # and what passed
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
    assert "training images: (60000, 28, 28)" in shown


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
    training = next(cell for cell in notebook.cells if "EPOCHS = 5\n" in cell.source)
    (epochs,) = [output for output in training.outputs if output.output_type == "stream"]
    assert len(epochs.text.splitlines()) == 1 + 5  # "5 epochs of ...", then one line each
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


def student_client(notebook, folder: Path, tmp_path: Path, **options):
    """An nbclient for ``notebook`` in ``folder``, its kernel started as Jupyter starts it."""
    from nbclient import NotebookClient

    return NotebookClient(
        notebook,
        kernel_manager_class=_kernel_manager_class(tmp_path / "kernels"),
        kernel_name=KERNEL_NAME,
        timeout=300,
        resources={"metadata": {"path": str(folder)}},
        **options,
    )


def student_environment() -> dict[str, str]:
    """A student's environment: no TensorFlow settings, and not under pytest (where ipykernel
    would stop showing file descriptor 2 in the notebook)."""
    skipped = ("TF_", "PYTEST", "MPLBACKEND", "KERAS")
    return {key: value for key, value in os.environ.items() if not key.startswith(skipped)}


def test_no_tensorflow_log_line_reaches_a_fresh_students_notebook(
    tmp_path: Path, public_tests_dir: Path
) -> None:
    """In a fresh kernel as Jupyter starts it, what C++ code writes to file descriptor 2 (where
    TensorFlow logs) shows in the notebook: the helpers must send it elsewhere from the first
    cell on, while Python's own warnings and errors still show."""
    folder = tmp_path / "student"
    folder.mkdir()
    _prepare_folder(folder, digits_dir=None, tests_dir=public_tests_dir)
    notebook = student_notebook()
    probe = "import os, sys, time\nos.write(2, b'{}\\n')\nprint('{}', file=sys.stderr)\n"
    probe += "time.sleep(1)  # the kernel forwards file descriptor 2 from a thread"
    before = nbformat.v4.new_code_cell(probe.format("fd 2 before setup", "python before setup"))
    after = nbformat.v4.new_code_cell(probe.format("fd 2 after setup", "python after setup"))
    stop = next(i for i, c in enumerate(notebook.cells) if c.source.startswith("## 12."))
    cells = [before, *notebook.cells[:stop], after]  # the notebook up to the long trainings
    notebook.cells = cells
    client = student_client(notebook, folder, tmp_path, allow_errors=False)
    with client.setup_kernel(env=student_environment(), stderr=subprocess.DEVNULL):
        for index, cell in enumerate(cells):
            if cell.cell_type == "code":
                client.execute_cell(cell, index)

    shown = stderr_of(notebook)
    first = "".join(text for index, text in shown if index == 0)
    assert "fd 2 before setup" in first  # the kernel does show file descriptor 2: the test can fail
    assert "python before setup" in first
    assert [(index, text) for index, text in shown if index > 0] == [
        (len(cells) - 1, "python after setup\n")
    ], shown
    assert "Test accuracy" not in printed(notebook)  # (the old wording; the table now)
    assert "test images" in printed(notebook)


def test_a_column_major_flatten_does_not_pass_unnoticed(
    tmp_path: Path, public_tests_dir: Path, digits_folder
) -> None:
    answer = "    return images.reshape(images.shape[0], NUM_PIXELS)\n"
    column_major = '    return images.reshape(images.shape[0], NUM_PIXELS, order="F")\n'
    folder = tmp_path / "student"
    folder.mkdir()
    module = digits_folder(solution_text().replace(answer, column_major))
    _prepare_folder(folder, digits_dir=module, tests_dir=public_tests_dir)
    notebook = student_notebook()
    check = check_cell(notebook, "flatten")
    client = student_client(notebook, folder, tmp_path, allow_errors=True)
    with client.setup_kernel(env=_kernel_environment(folder), stderr=subprocess.DEVNULL):
        for index in range(check + 2):
            if notebook.cells[index].cell_type == "code":
                client.execute_cell(notebook.cells[index], index)
    stopped = [o for o in notebook.cells[check].outputs if o.output_type == "error"]
    if stopped:  # the public checks caught it
        assert "flatten" in "\n".join(stopped[0].traceback)
    else:  # the notebook's own row-by-row check says so under the figure
        assert "the row, cut back into 28 rows, is the image again: False" in text_of(
            notebook.cells[check + 1]
        )


def test_full_mnist_offline_stops_with_a_clear_message(
    tmp_path: Path, public_tests_dir: Path
) -> None:
    """USE_FULL_MNIST = True without internet: what to do, not Keras's traceback. A proxy on a
    closed local port makes the download fail at once, without touching the network."""
    folder = tmp_path / "student"
    folder.mkdir()
    _prepare_folder(folder, digits_dir=None, tests_dir=public_tests_dir)
    notebook = student_notebook()
    setup, loader = [i for i, c in enumerate(notebook.cells) if c.cell_type == "code"][:2]
    source = notebook.cells[loader].source
    full = source.replace("USE_FULL_MNIST = False", "USE_FULL_MNIST = True")
    assert full != source
    notebook.cells[loader].source = full
    env = _kernel_environment(folder)
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        env[name] = "http://127.0.0.1:9"
    env.pop("NO_PROXY", None)
    env.pop("no_proxy", None)
    client = student_client(notebook, folder, tmp_path, allow_errors=True)
    with client.setup_kernel(env=env, stderr=subprocess.DEVNULL):
        client.execute_cell(notebook.cells[setup], setup)
        client.execute_cell(notebook.cells[loader], loader)
    (error,) = [o for o in notebook.cells[loader].outputs if o.output_type == "error"]
    lines = [ANSI.sub("", line) for line in error.traceback]
    assert error.ename == "StopHere"
    assert len(lines) <= 5, lines
    assert "could not be downloaded" in lines[1]
    assert "USE_FULL_MNIST = False" in lines[-1]
    assert not any('File "' in line or "Traceback" in line for line in lines)
    assert not (Path(env["KERAS_HOME"]) / "datasets" / "mnist.npz").exists()
