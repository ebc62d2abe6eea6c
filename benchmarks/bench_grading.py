"""Speed and memory of the jobs users wait for, as figures (never asserted in the test suite).

    python benchmarks/bench_grading.py [--repeat N]

Baseline, measured in the same run: a fresh Python that only imports TensorFlow, the cost every
job below must pay at least once. Each job is reported as its best wall time over N runs, its
ratio to the baseline, and (for grading) the worker's peak memory.

Targets (from the issues): grading a submission takes seconds, not minutes; the notebook runs
top to bottom in well under two minutes on the embedded sample on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("MNIST_LAB_OFFLINE", "1")


def best_of(repeat: int, job) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        job()
        times.append(time.perf_counter() - started)
    return min(times)


def children_peak_rss_mib() -> float:
    """The largest resident memory of any finished child process so far (Linux: KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def import_tensorflow() -> None:
    subprocess.run([sys.executable, "-c", "import tensorflow"], check=True, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per job (default: 3)")
    repeat = parser.parse_args().repeat

    from mnist_lab.build import BuildOptions, build_release
    from mnist_lab.grading.grade import grade_submission
    from mnist_lab.notebook import write_notebook

    solutions = resources.files("mnist_lab.solutions").joinpath("digits.py")
    stubs = resources.files("mnist_lab.exercises").joinpath("digits.py")
    work = Path(tempfile.mkdtemp(prefix="mnist-lab-bench-"))
    reference, untouched = work / "reference" / "digits.py", work / "stubs" / "digits.py"
    for path, source in ((reference, solutions), (untouched, stubs)):
        path.parent.mkdir()
        path.write_text(source.read_text("utf-8"))

    baseline = best_of(repeat, import_tensorflow)
    rows = [("baseline: python -c 'import tensorflow'", baseline, "")]
    results = {}

    def grade(path: Path) -> None:
        results[path] = grade_submission(submission=path)

    baseline_rss = children_peak_rss_mib()
    rows[0] = (*rows[0][:2], f"peak RSS {baseline_rss:.0f} MiB")
    seconds = best_of(repeat, lambda: grade(reference))
    graded = results[reference]
    memory = f"score {graded.score:g}/{graded.max_score:g}; "
    memory += f"largest child (the worker) peak RSS {children_peak_rss_mib():.0f} MiB"
    memory += f" = {children_peak_rss_mib() / baseline_rss:.1f} x baseline"
    rows.append(("mnist-lab grade, reference solution", seconds, memory))
    seconds = best_of(repeat, lambda: grade(untouched))
    rows.append(
        ("mnist-lab grade, untouched stubs", seconds, f"score {results[untouched].score:g}")
    )
    rows.append(
        (
            "solution notebook, executed (embedded sample)",
            best_of(repeat, lambda: write_notebook(out_path=work / "nb.ipynb", executed=True)),
            "target: well under 120 s",
        )
    )
    counter = iter(range(10**6))
    rows.append(
        (
            "mnist-lab build --no-execute",
            best_of(
                repeat,
                lambda: build_release(
                    out=work / f"release{next(counter)}",
                    options=BuildOptions(execute_notebook=False),
                ),
            ),
            "",
        )
    )

    print(f"{'job':<48} {'best s':>8} {'x baseline':>11}  notes")
    for name, seconds, notes in rows:
        print(f"{name:<48} {seconds:8.2f} {seconds / baseline:11.1f}  {notes}")


if __name__ == "__main__":
    main()
