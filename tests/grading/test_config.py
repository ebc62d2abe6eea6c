"""Every limit in one GradingConfig: checked, set from the command line, part of a batch's
fingerprint."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from mnist_lab.cli import _grading_config, build_parser
from mnist_lab.grading.batch import grading_config
from mnist_lab.grading.config import DEFAULTS, ConfigError, GradingConfig
from mnist_lab.grading.grade import default_tests_dir


@pytest.mark.parametrize("field", [f.name for f in dataclasses.fields(GradingConfig)])
@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), "20", True])
def test_every_limit_must_be_a_positive_number(field: str, bad) -> None:
    with pytest.raises(ConfigError, match=field):
        GradingConfig(**{field: bad})


@pytest.mark.parametrize("field", [f.name for f in dataclasses.fields(GradingConfig)])
def test_changing_any_limit_changes_the_batch_fingerprint(field: str) -> None:
    changed = dataclasses.replace(DEFAULTS, **{field: getattr(DEFAULTS, field) * 2})
    tests = default_tests_dir()
    assert grading_config(tests_dir=tests, config=changed) != grading_config(
        tests_dir=tests, config=DEFAULTS
    )
    assert grading_config(tests_dir=tests, config=GradingConfig()) == grading_config(
        tests_dir=tests, config=DEFAULTS
    )


def test_the_command_line_sets_the_limits_a_user_needs() -> None:
    args = build_parser().parse_args(
        ["grade", "x.py", "--time-limit", "5", "--budget", "90", "--memory-limit", "900"]
    )
    config = _grading_config(args)
    assert (config.time_limit, config.budget, config.memory_bytes) == (5.0, 90.0, 900_000_000)
    defaults = _grading_config(build_parser().parse_args(["grade", "x.py"]))
    assert defaults == DEFAULTS


def test_grade_refuses_a_bad_limit_before_grading(tmp_path: Path) -> None:
    from mnist_lab.grading.grade import GradingSetupError, grade_submission

    submission = tmp_path / "digits.py"
    submission.write_text("x = 1\n")
    with pytest.raises(GradingSetupError, match="time_limit must be a positive number"):
        grade_submission(submission=submission, time_limit=-1)
