"""A whole course graded with one hostile student in it: the classmates' rows are untouched.

Real batches (``--jobs 2``), real sandboxes, TensorFlow-backed submissions (slow).
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from mnist_lab.grading.batch import grade_batch

pytestmark = pytest.mark.slow


def reference() -> str:
    return resources.files("mnist_lab.solutions").joinpath("digits.py").read_text("utf-8")


def results(out: Path, key: str) -> dict:
    return json.loads((out / "results" / f"{key}.json").read_text(encoding="utf-8"))


STARVE = """

import os as _os
import time as _time

# 150 busy processes, each in a session of its own, started at import.
for _ in range(150):
    if _os.fork() == 0:
        _os.setsid()
        while True:
            pass
_time.sleep(1)
"""


def test_150_busy_processes_do_not_starve_a_classmate(tmp_path: Path) -> None:
    course = tmp_path / "course"
    course.mkdir()
    (course / "hog.py").write_text(reference() + STARVE, encoding="utf-8")
    (course / "ann.py").write_text(reference(), encoding="utf-8")
    out = tmp_path / "out"
    grade_batch(inputs=[course], out_dir=out, jobs=2)
    ann = results(out, "ann")
    assert ann["score"] == 80, [t["output"] for t in ann["tests"] if t["score"] != t["max_score"]]


SNOOP = """

import os as _os
import sys as _sys


def _look(paths):
    found = {}
    for path in paths:
        for folder, folders, files in _os.walk(path):
            # the Python it runs on (bound inside /tmp when the checkout is there) is no secret
            folders[:] = [f for f in folders if _os.path.join(folder, f) != _sys.prefix]
            for name in files:
                try:
                    with open(_os.path.join(folder, name), "rb") as stream:
                        found[_os.path.join(folder, name)] = stream.read().decode("latin-1")
                except OSError:
                    pass
    return found


def confusion(y_true, y_pred, num_classes=10):
    raise ValueError(repr(_look(@PATHS@))[:3000])
"""


def test_a_student_cannot_reach_classmates_inputs_or_out(tmp_path: Path) -> None:
    course = tmp_path / "course"
    course.mkdir()
    out = tmp_path / "out"
    marker = "CLASSMATE-SECRET-4242"
    (course / "bob.py").write_text(reference() + f"\n# {marker}\n", encoding="utf-8")
    paths = [str(course), str(out), str(tmp_path), "/tmp", "/home"]
    snoop = SNOOP.replace("@PATHS@", repr(paths))
    (course / "eve.py").write_text(reference() + snoop, encoding="utf-8")
    grade_batch(inputs=[course], out_dir=out, jobs=2)
    eve = results(out, "eve")
    shown = json.dumps(eve) + (out / "feedback" / "eve.html").read_text(encoding="utf-8")
    assert marker not in shown
    assert "bob" not in shown.lower()
    assert results(out, "bob")["score"] == 80
    confusion_public = next(t for t in eve["tests"] if t["name"].startswith("confusion"))
    assert "raised ValueError" in confusion_public["output"]  # the snoop ran, and found nothing
