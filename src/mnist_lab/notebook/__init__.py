"""The student notebook (mnist_digits.ipynb), its helpers, and the instructor's executed copy."""

from mnist_lab.notebook.write import (
    HELPERS_MODULE,
    NOTEBOOK_NAME,
    NotebookError,
    NotebookExecutionError,
    NotebookSourceError,
    write_helpers,
    write_notebook,
)

__all__ = [
    "HELPERS_MODULE",
    "NOTEBOOK_NAME",
    "NotebookError",
    "NotebookExecutionError",
    "NotebookSourceError",
    "write_helpers",
    "write_notebook",
]
