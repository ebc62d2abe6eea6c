"""The mnist-lab command: help, the console script, and one-line errors with exit status 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(
        [sys.executable, "-m", "mnist_lab", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        check=False,
        timeout=300,
    )


def test_console_script_is_installed_next_to_the_interpreter():
    script = Path(sys.executable).parent / "mnist-lab"
    assert script.exists(), "pip install did not create the mnist-lab console script"
    completed = subprocess.run(
        [str(script), "--version"], capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0
    assert completed.stdout.startswith("mnist-lab ")


def test_help_lists_every_subcommand():
    completed = run_cli("--help")
    assert completed.returncode == 0
    for command in ("build", "train", "stubs"):
        assert command in completed.stdout


def test_train_help_documents_its_options():
    completed = run_cli("train", "--help")
    assert completed.returncode == 0
    for option in ("--data", "--epochs", "--seed", "--batch-size"):
        assert option in completed.stdout


def test_no_command_is_a_usage_error():
    completed = run_cli()
    assert completed.returncode == 2
    assert "usage: mnist-lab" in completed.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("train", "--epochs", "0"), "expected a number of at least 1, got 0"),
        (("train", "--epochs", "five"), "expected a whole number, got 'five'"),
        (("train", "--seed", "-1"), "expected a number of at least 0, got -1"),
    ],
)
def test_bad_option_values_are_usage_errors(args, message):
    completed = run_cli(*args)
    assert completed.returncode == 2
    assert message in completed.stderr


def test_train_with_a_missing_data_file_is_one_clear_line(tmp_path):
    missing = tmp_path / "mnist.npz"
    completed = run_cli("train", "--data", str(missing))
    assert completed.returncode == 2
    assert completed.stderr.strip().splitlines()[-1] == f"mnist-lab: error: {missing}: no such file"
    assert "Traceback" not in completed.stderr


def test_train_with_a_corrupt_data_file_names_the_file(tmp_path):
    corrupt = tmp_path / "mnist.npz"
    corrupt.write_bytes(b"\x00" * 100)
    completed = run_cli("train", "--data", str(corrupt), "--epochs", "1")
    assert completed.returncode == 2
    assert f"mnist-lab: error: {corrupt}: not an .npz archive" in completed.stderr
    assert "Traceback" not in completed.stderr


@pytest.mark.slow
def test_train_reports_source_and_accuracies(tmp_path):
    completed = run_cli("train", "--epochs", "1", "--seed", "0", cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    assert "data: embedded sample" in completed.stdout
    assert "epoch 1/1: loss " in completed.stdout  # one progress line per epoch off a terminal
    assert "train accuracy: " in completed.stdout
    assert "test accuracy: " in completed.stdout


def user_error_classes() -> list[type]:
    from mnist_lab.build import BuildError
    from mnist_lab.data import MnistDataError
    from mnist_lab.grading.batch import BatchError
    from mnist_lab.grading.collect import CollectError
    from mnist_lab.grading.grade import GradingSetupError
    from mnist_lab.grading.gradebook import GradebookError
    from mnist_lab.grading.package import PackageError
    from mnist_lab.notebook import NotebookError
    from mnist_lab.quiz.bank import BankError
    from mnist_lab.quiz.build import QuizError
    from mnist_lab.quiz.html import QuizPageError
    from mnist_lab.stubs import MarkerError

    return [
        BatchError,
        CollectError,
        GradebookError,
        MarkerError,
        BankError,
        QuizError,
        QuizPageError,
        BuildError,
        MnistDataError,
        NotebookError,
        PackageError,
        GradingSetupError,
    ]


def test_every_user_facing_error_is_a_user_error():
    from mnist_lab.errors import UserError

    assert [cls.__name__ for cls in user_error_classes() if not issubclass(cls, UserError)] == []


def test_a_user_error_from_any_command_is_one_line_and_exit_2(monkeypatch, capsys):
    from mnist_lab import cli
    from mnist_lab.grading.collect import CollectError

    def refuse(args):
        raise CollectError("course.zip: no such file or folder")

    monkeypatch.setattr(cli, "cmd_quiz", refuse)
    assert cli.main(["quiz"]) == 2
    assert capsys.readouterr().err == "mnist-lab: error: course.zip: no such file or folder\n"


def parse_error(capsys, *args: str) -> list[str]:
    """What ``mnist-lab ARGS`` prints on stderr when argparse refuses it (exit status 2)."""
    from mnist_lab.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    assert exit_info.value.code == 2
    return capsys.readouterr().err.splitlines()


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (
            ("grade", "course.zip", "--ouput", "grades"),
            "unrecognized arguments: --ouput grades (did you mean --out?)",
        ),
        (
            ("grade", "course.zip", "--canvas-assignement-id", "1234"),
            "unrecognized arguments: --canvas-assignement-id 1234 "
            "(did you mean --canvas-assignment-id?)",
        ),
        (
            ("train", "--epohcs=3", "--quite"),
            "unrecognized arguments: --epohcs=3 --quite (did you mean --epochs?)",
        ),
    ],
)
def test_a_mistyped_option_shows_the_commands_usage_and_the_option_meant(capsys, args, error):
    lines = parse_error(capsys, *args)
    assert lines[0].startswith(f"usage: mnist-lab {args[0]} [-h]")
    assert lines[-1] == f"mnist-lab: error: {error}"


def test_an_unknown_option_like_no_other_gets_no_suggestion(capsys):
    lines = parse_error(capsys, "build", "--bogus")
    assert lines[0].startswith("usage: mnist-lab build [-h]")
    assert lines[-1] == "mnist-lab: error: unrecognized arguments: --bogus"


def test_every_parse_error_has_one_prefix(capsys):
    """A subcommand's errors said 'mnist-lab train: error:', the rest 'mnist-lab: error:'."""
    lines = parse_error(capsys, "train", "--epochs", "0")
    assert lines[0].startswith("usage: mnist-lab train [-h]")
    assert lines[-1] == (
        "mnist-lab: error: argument --epochs: expected a number of at least 1, got 0"
    )
    lines = parse_error(capsys, "grade")
    assert lines[-1] == "mnist-lab: error: the following arguments are required: SUBMISSION"
    lines = parse_error(capsys, "grde")
    assert lines[0].startswith("usage: mnist-lab [-h]")
    assert lines[-1].startswith("mnist-lab: error: argument COMMAND: invalid choice: 'grde'")
