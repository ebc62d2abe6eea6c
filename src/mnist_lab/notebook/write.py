"""Write the student notebook, and the instructor's executed copy, from one source file.

The notebook's only source is ``student_notebook.py`` (jupytext "percent" format) in this
package. :func:`write_notebook` turns it into ``mnist_digits.ipynb`` with no outputs, cleared
execution counts and cell ids numbered in order, so the same source always gives the same bytes.
The notebook's machinery (quieting TensorFlow, reloading digits.py, check reports, figures) is
``notebook_helpers.py``, shipped beside it as it is (:func:`write_helpers`).

With ``executed=True`` it first runs the notebook with nbclient in a scratch folder laid out like
the student's (``digits.py``, ``notebook_helpers.py``, ``tests/``, ``data/mnist_sample.npz``), by
default with the reference solution, and writes the notebook with all its outputs and plots. The
kernel runs as a student's does (ipykernel's defaults, which show what C++ code writes to file
descriptor 2 in the notebook), so the executed copy shows what students see.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from mnist_lab.constants import NOTEBOOK_NAME, STUDENT_MODULE, TESTS_FOLDER  # noqa: F401
from mnist_lab.errors import UserError
from mnist_lab.files import write_text_atomically

SOURCE_RESOURCE = "student_notebook.py"
HELPERS_MODULE = "notebook_helpers.py"  # shipped next to digits.py; the notebook imports it
SAMPLE_PATH = Path("data") / "mnist_sample.npz"
DEFAULT_CELL_TIMEOUT = 300.0  # seconds one cell may run; training the sample takes a few
KERNEL_NAME = "mnist-lab-python3"  # a private kernel spec: the Python running mnist-lab
STUDENT_KERNELSPEC = {
    "display_name": "Python 3 (ipykernel)",
    "language": "python",
    "name": "python3",
}

_MARKER = re.compile(r"^# %%(?P<rest>.*)$")
_MARKDOWN_MARKER = re.compile(r"^ \[markdown\]\s*$")


class NotebookError(UserError, RuntimeError):
    """The notebook cannot be written as asked (bad output path, missing input)."""


class NotebookSourceError(ValueError):
    """The notebook source file is malformed (names the line)."""


@dataclass
class NotebookExecutionError(NotebookError):
    """Running the notebook stopped at a cell: its index, the error and what it showed."""

    message: str
    cell_index: int | None = None  # index in notebook.cells of the cell that failed
    ename: str = ""
    evalue: str = ""
    traceback: list[str] = field(default_factory=list)  # the lines Jupyter shows for the error
    notebook: object = None  # the partly executed nbformat.NotebookNode

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


def read_percent_source(text: str, *, source: str = SOURCE_RESOURCE):
    """Turn percent-format text into a v4 notebook with stable ids and no outputs."""
    import nbformat

    cells: list = []
    kind: str | None = None  # None: still in the header above the first marker
    start = 0
    lines: list[str] = []

    def close_cell() -> None:
        while lines and not lines[-1].strip():
            lines.pop()
        while lines and not lines[0].strip():
            lines.pop(0)
        if not lines:
            raise NotebookSourceError(f"{source}, line {start}: empty cell")
        cell_id = f"cell-{len(cells) + 1:02d}"
        body = "\n".join(lines)
        if kind == "markdown":
            cells.append(nbformat.v4.new_markdown_cell(body, id=cell_id))
        else:
            cells.append(nbformat.v4.new_code_cell(body, id=cell_id))

    for number, line in enumerate(text.splitlines(), start=1):
        marker = _MARKER.match(line)
        if marker:
            rest = marker["rest"]
            if rest.strip() and not _MARKDOWN_MARKER.match(rest):
                raise NotebookSourceError(
                    f"{source}, line {number}: unknown cell marker {line!r}; "
                    "use '# %%' or '# %% [markdown]'"
                )
            if kind is not None:
                close_cell()
            kind = "markdown" if rest.strip() else "code"
            start, lines = number, []
        elif kind == "markdown":
            if line not in ("", "#") and not line.startswith("# "):
                raise NotebookSourceError(
                    f"{source}, line {number}: a Markdown cell line must be empty, '#' or start "
                    f"with '# ', got {line!r}"
                )
            lines.append(line[2:])
        elif kind == "code":
            lines.append(line)
    if kind is None:
        raise NotebookSourceError(f"{source}: no cell marker ('# %%') found")
    close_cell()
    notebook = nbformat.v4.new_notebook(
        cells=cells,
        metadata={"kernelspec": dict(STUDENT_KERNELSPEC), "language_info": {"name": "python"}},
    )
    nbformat.validate(notebook)
    return notebook


def student_notebook():
    """The student notebook built from the packaged source, its parts that list the
    assignment's functions derived from the assignment (``mnist_lab.assignment``)."""
    text = resources.files("mnist_lab.notebook").joinpath(SOURCE_RESOURCE).read_text("utf-8")
    notebook = read_percent_source(text)
    _derive_function_cells(notebook, _functions())
    return notebook


def _functions() -> tuple[str, ...]:
    from mnist_lab.assignment import load_assignment

    return load_assignment().names


_LOAD_LINE = re.compile(r"^.* = helpers\.load_digits\(\)$", re.M)
_CHECK_CALL = re.compile(r'grader\.check\("(\w+)"\)')


def _derive_function_cells(notebook, functions: tuple[str, ...]) -> None:
    """The setup cell names every function of the assignment; a function without a section of
    its own gets a check cell at the end (a function added to the exercise is checked too)."""
    import nbformat

    names = ", ".join(functions) + ("," if len(functions) == 1 else "")
    for cell in notebook.cells:
        if cell.cell_type == "code" and _LOAD_LINE.search(cell.source):
            cell.source = _LOAD_LINE.sub(f"{names} = helpers.load_digits()", cell.source)
    checked = {name for cell in notebook.cells for name in _CHECK_CALL.findall(cell.source)}
    for name in (name for name in functions if name not in checked):
        notebook.cells.append(
            nbformat.v4.new_markdown_cell(
                f"## Check `{name}`\n\nComplete `{name}` in `digits.py`, save the file, and "
                "run its public checks:",
                id=f"check-{name}-text",
            )
        )
        notebook.cells.append(
            nbformat.v4.new_code_cell(f'helpers.report(grader.check("{name}"))', id=f"check-{name}")
        )


_FUNCTIONS_LINE = re.compile(r"^FUNCTIONS = \(.*\)$", re.M)


def helpers_source() -> str:
    """The text of notebook_helpers.py, as students get it (its FUNCTIONS: the assignment's)."""
    text = resources.files("mnist_lab.notebook").joinpath(HELPERS_MODULE).read_text("utf-8")
    names = _functions()
    literal = ", ".join(f'"{name}"' for name in names) + ("," if len(names) == 1 else "")
    return _FUNCTIONS_LINE.sub(f"FUNCTIONS = ({literal})", text, count=1)


def write_helpers(*, out_dir: Path) -> Path:
    """Write notebook_helpers.py into ``out_dir`` (the student's folder); returns its path."""
    path = Path(out_dir) / HELPERS_MODULE
    write_text_atomically(path, helpers_source())
    return path


def write_notebook(
    *,
    out_path: Path,
    executed: bool = False,
    digits_dir: Path | None = None,
    tests_dir: Path | None = None,
    timeout: float = DEFAULT_CELL_TIMEOUT,
) -> Path:
    """Write the student notebook to ``out_path``; with ``executed=True``, run it first.

    ``executed=True`` runs the notebook top to bottom in a scratch folder holding
    ``digits_dir/digits.py`` (default: the reference solution), the public checks (copied from
    ``tests_dir``, default: written by ``mnist_lab.grading.testfiles.write_public_tests``) and the
    embedded MNIST sample, each cell limited to ``timeout`` seconds. A cell that fails raises
    :class:`NotebookExecutionError` and nothing is written. Returns ``out_path``.
    """
    out_path = Path(out_path)
    if not timeout > 0:
        raise NotebookError(f"timeout must be a positive number of seconds, got {timeout}")
    if out_path.is_dir():
        raise NotebookError(f"{out_path}: is a folder, expected a notebook file path")
    if not out_path.parent.is_dir():
        raise NotebookError(f"{out_path}: folder {out_path.parent} does not exist")
    notebook = student_notebook()
    if executed:
        notebook = _executed(notebook, digits_dir=digits_dir, tests_dir=tests_dir, timeout=timeout)
    write_text_atomically(out_path, _notebook_text(notebook))
    return out_path


def _notebook_text(notebook) -> str:
    import nbformat

    text = nbformat.writes(notebook)
    return text if text.endswith("\n") else text + "\n"


def _prepare_folder(workdir: Path, *, digits_dir: Path | None, tests_dir: Path | None) -> None:
    """Lay out ``workdir`` like the student's folder: digits.py, its helpers, tests/, data/."""
    write_helpers(out_dir=workdir)
    if digits_dir is None:
        solution = resources.files("mnist_lab.solutions").joinpath(STUDENT_MODULE)
        (workdir / STUDENT_MODULE).write_bytes(solution.read_bytes())
    else:
        module = Path(digits_dir) / STUDENT_MODULE
        if not module.is_file():
            raise NotebookError(f"digits_dir {digits_dir}: no {STUDENT_MODULE} there")
        shutil.copyfile(module, workdir / STUDENT_MODULE)
    if tests_dir is None:
        from mnist_lab.grading.testfiles import write_public_tests

        write_public_tests(out_dir=workdir / TESTS_FOLDER)
    else:
        if not Path(tests_dir).is_dir():
            raise NotebookError(f"tests_dir {tests_dir}: no such folder")
        shutil.copytree(tests_dir, workdir / TESTS_FOLDER)
    sample = resources.files("mnist_lab.data").joinpath(SAMPLE_PATH.name)
    (workdir / SAMPLE_PATH).parent.mkdir()
    (workdir / SAMPLE_PATH).write_bytes(sample.read_bytes())


def _kernel_manager_class(spec_root: Path):
    """A kernel manager class for the Python running mnist-lab, whatever kernels are installed.

    nbclient creates (and so shuts down) the manager itself; its kernel spec is a private one
    in ``spec_root`` rather than whatever "python3" means on this machine. Its command line is
    ipykernel's own default, as in a student's Jupyter: nothing hides what students would see.
    """
    from ipykernel.kernelspec import get_kernel_dict
    from jupyter_client import AsyncKernelManager
    from jupyter_client.kernelspec import KernelSpecManager
    from traitlets import default

    spec_dir = spec_root / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": get_kernel_dict()["argv"],  # ipykernel's own spec for this Python
        "display_name": "Python 3 (mnist-lab)",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), "utf-8")

    class PrivateKernelManager(AsyncKernelManager):  # nbclient drives kernels with asyncio
        @default("kernel_spec_manager")
        def _private_kernel_specs(self) -> KernelSpecManager:
            return KernelSpecManager(kernel_dirs=[str(spec_root)], ensure_native_kernel=False)

    return PrivateKernelManager


def _kernel_environment(workdir: Path) -> dict[str, str]:
    """The environment of a student's kernel, plus what makes the outputs repeat byte for byte."""
    env = dict(os.environ)
    env.pop("MPLBACKEND", None)  # the kernel's inline backend must draw the figures
    # ipykernel stops showing file descriptor 2 under pytest; a student's kernel shows it.
    env.pop("PYTEST_CURRENT_TEST", None)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # students have not set it either
    env["PYTHONHASHSEED"] = "0"
    env["KERAS_HOME"] = str(workdir.parent / "keras-home")  # never the user's cache
    return env


def _executed(notebook, *, digits_dir: Path | None, tests_dir: Path | None, timeout: float):
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    with tempfile.TemporaryDirectory(prefix="mnist-lab-notebook-") as scratch:
        workdir = Path(scratch) / "student"
        workdir.mkdir()
        _prepare_folder(workdir, digits_dir=digits_dir, tests_dir=tests_dir)
        client = NotebookClient(
            notebook,
            kernel_manager_class=_kernel_manager_class(Path(scratch) / "kernels"),
            kernel_name=KERNEL_NAME,
            timeout=timeout,
            allow_errors=False,
            record_timing=False,
            resources={"metadata": {"path": str(workdir)}},
        )
        log_path = Path(scratch) / "kernel-stderr.log"
        try:
            with open(log_path, "wb") as kernel_log:
                client.execute(env=_kernel_environment(workdir), stderr=kernel_log)
        except CellExecutionError as error:
            index, lines = _error_cell(notebook)
            cell = f"cell {index + 1} ({notebook.cells[index].id})" if index is not None else "?"
            raise NotebookExecutionError(
                f"the notebook stopped at {cell}: {error.ename}: {error.evalue}",
                cell_index=index,
                ename=error.ename,
                evalue=error.evalue,
                traceback=lines,
                notebook=notebook,
            ) from None
        except (CellTimeoutError, DeadKernelError) as error:
            started = [
                index
                for index, cell in enumerate(notebook.cells)
                if cell.cell_type == "code" and cell.execution_count is not None
            ]
            index = started[-1] if started else None  # the cell that was running
            if isinstance(error, CellTimeoutError):
                what = f"a cell ran longer than {timeout:g} s"
            else:
                tail = log_path.read_text("utf-8", errors="replace").strip().splitlines()[-3:]
                what = "the kernel died" + (": " + " | ".join(tail) if tail else "")
            cell = f"cell {index + 1} ({notebook.cells[index].id})" if index is not None else "?"
            raise NotebookExecutionError(
                f"running the notebook failed at {cell}: {what}",
                cell_index=index,
                ename=type(error).__name__,
                notebook=notebook,
            ) from None
    _merge_streams(notebook)
    notebook.metadata["kernelspec"] = dict(STUDENT_KERNELSPEC)
    return notebook


def _merge_streams(notebook) -> None:
    """One output per run of stdout (or stderr) text in a cell: the kernel flushes its streams
    on a timer, so how printed lines fall into outputs depends on the machine's load, and the
    executed notebook would not repeat byte for byte."""
    for cell in notebook.cells:
        merged = []
        for output in cell.get("outputs", []):
            previous = merged[-1] if merged else None
            if (
                output.get("output_type") == "stream"
                and previous is not None
                and previous.get("output_type") == "stream"
                and previous.get("name") == output.get("name")
            ):
                previous["text"] += output["text"]
            else:
                merged.append(output)
        if "outputs" in cell:
            cell["outputs"] = merged


def _error_cell(notebook) -> tuple[int | None, list[str]]:
    """The index of the first cell with an error output, and the lines that error shows."""
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                return index, list(output.get("traceback", []))
    return None, []
