"""The student notebook (mnist_digits.ipynb) and the instructor's executed copy."""

from mnist_lab.notebook.write import (
    NOTEBOOK_NAME,
    NotebookError,
    NotebookExecutionError,
    NotebookSourceError,
    write_notebook,
)

__all__ = [
    "NOTEBOOK_NAME",
    "NotebookError",
    "NotebookExecutionError",
    "NotebookSourceError",
    "write_notebook",
]
