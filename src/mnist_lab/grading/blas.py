"""One BLAS thread for the grader's own NumPy.

OpenBLAS's worker threads spin after every call. The grader's matrix products are small (a
model's forward pass on a few hundred images), yet with two submissions graded at once its
spinning threads used 0.7 s of CPU per submission, three times the grader's real work, taken
from the sandboxes. Sandboxes get ``OPENBLAS_NUM_THREADS=1`` in their environment; the grading
process may have imported NumPy before mnist-lab, so its OpenBLAS is told at run time.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools

SETTERS = (
    "openblas_set_num_threads",
    "openblas_set_num_threads64_",
    "scipy_openblas_set_num_threads64_",
    "scipy_openblas_set_num_threads",
)


def _loaded_openblas() -> list[str]:
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            return sorted({line.split()[-1] for line in maps if "openblas" in line.lower()})
    except OSError:  # not Linux: leave NumPy as it is
        return []


@functools.cache
def use_one_thread() -> int:
    """Set every loaded OpenBLAS to one thread (NumPy imported first); how many were set."""
    import numpy  # noqa: F401  (loads its OpenBLAS)

    changed = 0
    for path in _loaded_openblas():
        with contextlib.suppress(OSError):
            library = ctypes.CDLL(path)
            for name in SETTERS:
                if hasattr(library, name):
                    getattr(library, name)(1)
                    changed += 1
    return changed
