"""The student notebook as written (no execution): structure, repeatability, source errors."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest

from mnist_lab.assignment import load_assignment
from mnist_lab.notebook import HELPERS_MODULE, NOTEBOOK_NAME, NotebookError, write_notebook
from mnist_lab.notebook.write import NotebookSourceError, helpers_source, read_percent_source

FUNCTIONS = ("normalize", "flatten", "build_model", "predict_digit", "confusion")
MAX_SETUP_LINES = 15  # the first cell a student reads is short; its machinery is in the helpers
# The nine questions of the course slide (sw10-work2), as distinctive phrases.
SLIDE_QUESTIONS = (
    "Why do the image data need to be normalized (e.g., divided by 255.0)?",
    "Why must we split the data into training and test sets?",
    "how many input values must be provided to the model for each image?",
    "What is the purpose of a Dense layer with 10 neurons in the model?",
    "What is the difference between a perceptron and a Dense layer?",
    "Why is training accuracy usually higher than test accuracy?",
    "What does a confusion matrix tell you about the model?",
    "Why is `np.argmax()` used when predicting digits?",
    "What happens if you feed an image with incorrect dimensions",
)


@pytest.fixture(scope="module")
def notebook(tmp_path_factory) -> nbformat.NotebookNode:
    path = write_notebook(out_path=tmp_path_factory.mktemp("nb") / NOTEBOOK_NAME)
    return nbformat.read(path, as_version=4)


def check_cell_index(notebook, function: str) -> int:
    calls = [
        index
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and f'grader.check("{function}")' in cell.source
    ]
    assert len(calls) == 1, f"expected one check cell for {function}, found cells {calls}"
    return calls[0]


def test_two_writes_are_byte_identical_and_clean(tmp_path: Path) -> None:
    first = write_notebook(out_path=tmp_path / "first.ipynb")
    second = write_notebook(out_path=tmp_path / "second.ipynb")
    assert first.read_bytes() == second.read_bytes()
    notebook = nbformat.read(first, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code, "the notebook has no code cells"
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code)
    ids = [cell.id for cell in notebook.cells]
    assert len(set(ids)) == len(ids)
    assert notebook.metadata.kernelspec.name == "python3"


def test_the_setup_cell_is_short_and_loads_the_helpers_before_tensorflow(notebook) -> None:
    setup = next(cell for cell in notebook.cells if cell.cell_type == "code")
    lines = setup.source.splitlines()
    assert len(lines) <= MAX_SETUP_LINES, setup.source
    imports = [line for line in lines if re.match(r"(import|from) ", line)]
    assert imports[0].startswith("import notebook_helpers"), imports
    assert any(line.startswith("import tensorflow") for line in imports)
    assert 'grader = otter.Notebook(tests_dir="tests")' in setup.source
    assert "helpers.load_digits()" in setup.source
    assert "def " not in setup.source


def test_a_check_follows_each_function_before_the_notebook_uses_it(notebook) -> None:
    check_cells = [check_cell_index(notebook, function) for function in FUNCTIONS]
    assert check_cells == sorted(check_cells), "the five functions come in the order of digits.py"
    for function, check_index in zip(FUNCTIONS, check_cells, strict=True):
        introduction = notebook.cells[check_index - 1]
        assert introduction.cell_type == "markdown"
        assert f"`{function}`" in introduction.source, f"no introduction of {function}"
        assert "helpers.report(" in notebook.cells[check_index].source
        uses = [
            index
            for index, cell in enumerate(notebook.cells)
            if cell.cell_type == "code" and re.search(rf"\b{function}\(", cell.source)
        ]
        assert uses, f"the notebook never calls {function}"
        assert min(uses) > check_index, f"{function} is used before its check"


def test_the_introduction_lists_the_functions_in_their_order(notebook) -> None:
    table = notebook.cells[0].source
    positions = [table.index(f"| `{function}(") for function in FUNCTIONS]
    assert positions == sorted(positions)


def test_every_result_is_followed_by_what_to_look_at(notebook) -> None:
    """Each numbered section that computes something says what to observe in it."""
    sections = re.split(r"^## ", "\n".join(c.source for c in notebook.cells), flags=re.M)
    numbered = [section for section in sections if re.match(r"\d+\. ", section)]
    assert len(numbered) >= 13
    for section in numbered:
        title = section.splitlines()[0]
        if title.startswith(("13. ", "14. ")):  # the experiments and the questions
            continue
        assert "What to look at" in section, f"section {title!r} says nothing about its results"


def test_the_helpers_module_stands_alone_and_lists_the_functions_of_the_tests() -> None:
    """Students have no mnist_lab: the helpers use only what their README installs."""
    tree = ast.parse(helpers_source())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}  # fmt: skip
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom)}  # fmt: skip
    assert imported <= {"io", "os", "sys", "math", "pathlib", "matplotlib", "numpy", "tensorflow",
                        "IPython", "digits"}, imported  # fmt: skip
    assigned = {
        node.targets[0].id: node.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
    }
    assert ast.literal_eval(assigned["FUNCTIONS"]) == load_assignment().names == FUNCTIONS
    assert HELPERS_MODULE == "notebook_helpers.py"


def test_the_nine_slide_questions_close_it_with_a_link_to_the_quiz(notebook) -> None:
    last = notebook.cells[-1]
    assert last.cell_type == "markdown"
    text = " ".join(last.source.split())
    for question in SLIDE_QUESTIONS:
        assert question in text, f"question missing: {question}"
    assert len(re.findall(r"^\d\. ", last.source, flags=re.MULTILINE)) == len(SLIDE_QUESTIONS)
    assert "](quiz.html)" in last.source


def test_the_notebook_needs_only_what_students_have(notebook) -> None:
    code = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    assert "mnist_lab" not in code, "students do not have mnist_lab installed"
    imported = set(re.findall(r"^(?:import|from) (\w+)", code, flags=re.MULTILINE))
    assert imported == {"notebook_helpers", "numpy", "otter", "tensorflow"}, imported
    assert "helpers.load_mnist(full=USE_FULL_MNIST)" in code
    assert "USE_FULL_MNIST = False" in code


def test_percent_source_is_read_into_cells_with_stable_ids() -> None:
    text = '"""header, not a cell"""\n# %% [markdown]\n# # Title\n#\n# text\n\n# %%\nx = 1\n\n'
    notebook = read_percent_source(text)
    assert [(cell.cell_type, cell.source, cell.id) for cell in notebook.cells] == [
        ("markdown", "# Title\n\ntext", "cell-01"),
        ("code", "x = 1", "cell-02"),
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("# %%\nx = 1\n# %% [raw]\ny\n", "line 3: unknown cell marker"),
        ("# %% [markdown]\n# fine\nnot a comment\n", "line 3: a Markdown cell line must"),
        ("# %%\n\n# %%\nx = 1\n", "line 1: empty cell"),
        ("x = 1\n", "no cell marker"),
    ],
)
def test_malformed_source_names_the_line(text: str, problem: str) -> None:
    with pytest.raises(NotebookSourceError, match=re.escape(problem)):
        read_percent_source(text, source="nb.py")


def test_a_bad_out_path_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    with pytest.raises(NotebookError, match="is a folder"):
        write_notebook(out_path=tmp_path)
    with pytest.raises(NotebookError, match="does not exist"):
        write_notebook(out_path=tmp_path / "missing" / NOTEBOOK_NAME)
    with pytest.raises(NotebookError, match="timeout must be a positive number"):
        write_notebook(out_path=tmp_path / NOTEBOOK_NAME, timeout=0)
    assert list(tmp_path.iterdir()) == []


def test_the_parts_that_list_the_functions_are_derived_from_the_assignment():
    """Drift check: what ships equals what the assignment gives (a sixth function would be in
    the helper's FUNCTIONS, the setup cell and a check cell of its own)."""
    from importlib import resources

    from mnist_lab.notebook import write

    committed = resources.files("mnist_lab.notebook").joinpath("notebook_helpers.py").read_text()
    assert write.helpers_source() == committed
    notebook = write.student_notebook()
    setup = next(c.source for c in notebook.cells if "helpers.load_digits()" in c.source)
    assert ", ".join(load_assignment().names) + " = helpers.load_digits()" in setup
    sixth = write.read_percent_source(
        resources.files("mnist_lab.notebook").joinpath(write.SOURCE_RESOURCE).read_text()
    )
    write._derive_function_cells(sixth, (*load_assignment().names, "accuracy"))
    assert sixth.cells[-1].source == 'helpers.report(grader.check("accuracy"))'
    assert "accuracy = helpers.load_digits()" in next(
        c.source for c in sixth.cells if "helpers.load_digits()" in c.source
    )
