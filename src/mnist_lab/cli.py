"""The ``mnist-lab`` command: a thin layer over the package's entry functions.

Every subcommand parses its options, calls one function, prints its result. Expected failures
(bad data file, bad --out, malformed markers, bad submission) print one ``mnist-lab: error:``
line and exit with status 2; a traceback means a bug in mnist-lab.
"""

from __future__ import annotations

import argparse
import difflib
import math
import os
import signal
import sys
import warnings
from pathlib import Path
from typing import Any, NoReturn

from mnist_lab import __version__
from mnist_lab.constants import ASSIGNMENT_NAME
from mnist_lab.errors import UserError
from mnist_lab.grading.config import DEFAULTS

EXIT_USER_ERROR = 2
DEFAULT_SOLUTION = Path("solutions/digits.py")
PROG = "mnist-lab"
DEFAULT_GRADES_DIR = Path("mnist-lab-grades")
# grade's options that only a batch uses: given with --results they would be ignored.
BATCH_ONLY_OPTIONS = ("--out", "--jobs", "--name", "--canvas-assignment-id", "--cluster")


class UsageError(UserError):
    """Options that do not go together."""


class Parser(argparse.ArgumentParser):
    """argparse that reports every mistake as ``mnist-lab: error: ...`` after the usage of the
    command it concerns (a subcommand's own), and suggests the option a typo was meant to be."""

    def add_subparsers(self, **kwargs):  # type: ignore[no-untyped-def]
        self._commands = super().add_subparsers(**kwargs)
        return self._commands

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USER_ERROR, f"{PROG}: error: {message}\n")

    def parse_args(self, args=None, namespace=None):  # type: ignore[no-untyped-def]
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:  # the subcommand's parser left them: its usage is the one to show
            commands = getattr(self, "_commands", None)
            chosen = commands.choices.get(getattr(parsed, "command", None)) if commands else None
            parser = chosen or self
            parser.error(f"unrecognized arguments: {' '.join(extras)}{parser.suggestion(extras)}")
        return parsed

    def suggestion(self, extras: list[str]) -> str:
        """`` (did you mean --out?)`` for the first unknown option close to a known one."""
        known = {o.lstrip("-"): o for action in self._actions for o in action.option_strings}
        for extra in extras:
            if extra.startswith("-"):  # compared without dashes, which every option shares
                typed = extra.split("=", 1)[0].lstrip("-")
                close = difflib.get_close_matches(typed, list(known), n=1, cutoff=0.6)
                if close:
                    return f" (did you mean {known[close[0]]}?)"
        return ""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of at least 1, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number of at least 0, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def _grading_config(args: argparse.Namespace):
    """The limits the options set, the rest at their defaults (one GradingConfig)."""
    from mnist_lab.grading.config import DEFAULTS, GradingConfig

    return GradingConfig(
        time_limit=args.time_limit,
        budget=args.budget,
        memory_bytes=int(args.memory_limit * 1e6) if args.memory_limit else DEFAULTS.memory_bytes,
    )


def _tests(args: argparse.Namespace) -> Path | None:
    """``--tests`` or ``--autograder`` (default: the last build's zip in mnist-lab-release/)."""
    from mnist_lab.build import DEFAULT_OUT
    from mnist_lab.grading import inputs

    tests, what = inputs.resolve_tests(
        tests=args.tests, autograder=args.autograder, default_build=DEFAULT_OUT
    )
    if tests is not None and args.tests is None:  # say so when a build's zip was found
        print(f"mnist-lab: grading with {what}", file=sys.stderr)
    return tests


def cmd_grade(args: argparse.Namespace) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args.tests = _tests(args)
    if args.results is not None:
        return _grade_one(args)
    from mnist_lab.grading.batch import ProgressPrinter, grade_batch

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # a scheduler's SIGTERM stops the batch as cleanly as Ctrl-C

    signal.signal(signal.SIGTERM, stop)
    result = grade_batch(
        inputs=args.submissions,
        out_dir=DEFAULT_GRADES_DIR if args.out is None else args.out,
        jobs=args.jobs,  # None: the number of cores
        tests_dir=args.tests,
        config=_grading_config(args),
        assignment_name=ASSIGNMENT_NAME if args.name is None else args.name,
        canvas_assignment_id=args.canvas_assignment_id,
        progress=ProgressPrinter(sys.stderr),
        fork_server=args.fork_server,
        cluster=args.cluster,
    )
    print(result.summary())
    for warning in result.files.warnings():
        print(f"mnist-lab: warning: {warning}", file=sys.stderr)
    return 0  # grading completed: the scores are in the gradebook, not in the exit status


def _grade_one(args: argparse.Namespace) -> int:
    from mnist_lab.grading import inputs
    from mnist_lab.grading.grade import grade_submission

    if len(args.submissions) != 1:
        raise UsageError("--results grades one submission file; for many, use --out DIR")
    given = [o for o in BATCH_ONLY_OPTIONS if getattr(args, o[2:].replace("-", "_")) is not None]
    if given:
        raise UsageError(
            f"{', '.join(given)}: only for grading a batch into --out; --results grades one file"
        )
    (submission,) = args.submissions
    inputs.check_submission_file(
        submission, hint=" (--results grades one file; grade a folder of submissions with --out)"
    )
    inputs.check_results_path(args.results, submission=submission)
    inputs.check_tests_dir(args.tests)
    result = grade_submission(
        submission=submission,
        tests_dir=args.tests,
        results_path=args.results,
        config=_grading_config(args),
        fork_server=args.fork_server,
    )
    print(result.to_text())
    print(f"wrote {args.results}")
    if result.grader_error is not None:
        print(f"mnist-lab: error: grading failed: {result.grader_error}", file=sys.stderr)
        return EXIT_USER_ERROR
    return 0  # grading completed: the score is in the results, not in the exit status


def cmd_check(args: argparse.Namespace) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from mnist_lab.grading import inputs
    from mnist_lab.grading.grade import grade_submission

    inputs.check_submission_file(args.submission)
    inputs.check_tests_dir(args.tests)
    result = grade_submission(submission=args.submission, tests_dir=args.tests, public_only=True)
    print(result.to_text())
    if result.grader_error is not None:
        return EXIT_USER_ERROR
    return 0 if result.all_passed else 1


def cmd_doctor(args: argparse.Namespace) -> int:
    from mnist_lab.grading.doctor import run_doctor

    report = run_doctor()
    print(report.to_text())
    return 0 if report.can_grade else EXIT_USER_ERROR


def cmd_build(args: argparse.Namespace) -> int:
    from mnist_lab.build import BuildOptions, build_release

    options = BuildOptions(
        assignment_name=args.name,
        total_points=args.points,
        quiz_seed=args.quiz_seed,
        quiz_variants=args.variants,
        execute_notebook=not args.no_execute,
        practice_quiz=args.practice_quiz,
    )
    result = build_release(
        out=args.out, options=options, progress=lambda message: print(message, flush=True)
    )
    print(result.summary())
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from mnist_lab.train import train_reference

    def announce(message: str) -> None:
        print(message, flush=True)

    result = train_reference(
        data_path=args.data,
        epochs=args.epochs,
        seed=args.seed,
        batch_size=args.batch_size,
        # A live progress bar on a terminal; one line per epoch in logs and CI.
        progress="none" if args.quiet else ("bar" if sys.stdout.isatty() else "lines"),
        announce=announce,
    )
    print(
        f"trained {result.epochs} epoch{'' if result.epochs == 1 else 's'} on "
        f"{result.train_images:,} images "
        f"in {result.seconds:.1f} s"
    )
    print(f"train accuracy: {result.train_accuracy:.2%}")
    print(f"test accuracy:  {result.test_accuracy:.2%} ({result.test_images:,} test images)")
    return 0


def cmd_stubs(args: argparse.Namespace) -> int:
    from mnist_lab import readme_table
    from mnist_lab.assignment import load_assignment
    from mnist_lab.stubs import check_stubs, write_stubs

    readme = args.readme
    if readme is None and args.solution == DEFAULT_SOLUTION and Path("README.md").is_file():
        readme = Path("README.md")  # the project's own README lists the project's functions
    assignment = load_assignment(tests_dir=args.tests, solution=args.solution) if readme else None
    if args.write:
        print(f"wrote {write_stubs(solution_path=args.solution, stubs_path=args.stubs)}")
        if readme is not None:
            readme_table.write_readme_table(readme, args.solution, assignment)
            print(f"wrote the table of functions in {readme}")
        return 0
    report = check_stubs(solution_path=args.solution, stubs_path=args.stubs)
    drift = []
    if not report.up_to_date:
        drift.append(
            f"{args.stubs} differs from the stubs generated from {args.solution} "
            f"(first at line {report.first_difference})"
        )
    if readme is not None and readme_table.readme_drift(readme, args.solution, assignment):
        drift.append(f"{readme}'s table of functions differs from the assignment")
    for line in drift:
        print(f"{line}; run 'mnist-lab stubs --write'", file=sys.stderr)
    if not drift:
        print(f"{args.stubs} is up to date with {args.solution}")
    return 1 if drift else 0


def cmd_autograder(args: argparse.Namespace) -> int:
    from mnist_lab.grading.package import write_autograder

    path = write_autograder(out_dir=args.out, total_points=args.points)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


def cmd_quiz(args: argparse.Namespace) -> int:
    from mnist_lab.quiz.build import write_quiz

    result = write_quiz(
        out_dir=args.out,
        seed=args.seed,
        variants=args.variants,
        model_answers=args.practice_quiz,
    )
    kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(result.questions_by_type.items()))
    print(f"wrote {len(result.files)} files to {result.out_dir}/")
    print(f"{result.questions} questions: {kinds}")
    for name in result.files:
        print(f"  {name}")
    return 0


PRACTICE_QUIZ_FLAG = ("--practice-quiz",)
PRACTICE_QUIZ_OPTION = {
    "action": "store_true",
    "help": "for a practice-only release: the quiz page shows each model answer after a right "
    "response, and after any attempt at a free-text question (default: no model answer in it)",
}


def _add_build(commands: Any) -> None:
    from mnist_lab.quiz.build import DEFAULT_VARIANTS  # the quiz's own default

    build = commands.add_parser(
        "build",
        help="write the assignment release (student files, instructor files, ...)",
        description="Write the assignment release into one folder.",
    )
    build.add_argument(
        "--out",
        type=Path,
        default=Path("mnist-lab-release"),
        help="folder to write (absent, empty, or a previous build; default: %(default)s)",
    )
    build.add_argument(
        "--name", default=ASSIGNMENT_NAME, help="assignment name (default: %(default)s)"
    )
    build.add_argument(
        "--points",
        type=_positive_float,
        default=None,
        help="total points of the autograder; every case is scaled to add up to it "
        "(default: the tests' own 80)",
    )
    build.add_argument(
        "--quiz-seed",
        type=_non_negative_int,
        default=0,
        help="seed of the quiz's parameterised variants (default: %(default)s)",
    )
    build.add_argument(
        "--variants",
        type=_non_negative_int,
        default=DEFAULT_VARIANTS,
        help="variants per parameterised quiz question (default: %(default)s)",
    )
    build.add_argument(
        "--no-execute",
        action="store_true",
        help="do not run the solution notebook (faster; its plots are then missing)",
    )
    build.add_argument(*PRACTICE_QUIZ_FLAG, **PRACTICE_QUIZ_OPTION)
    build.set_defaults(handler=cmd_build)


def _add_train(commands: Any) -> None:
    train = commands.add_parser(
        "train",
        help="train the reference model and report its accuracy",
        description="Train the reference pipeline (normalize, flatten, build_model, fit) and "
        "report train and test accuracy.",
    )
    train.add_argument(
        "--data",
        type=Path,
        default=None,
        help="MNIST .npz in the Keras layout (default: $MNIST_NPZ, the Keras cache, a download, "
        "or the embedded sample, in that order)",
    )
    train.add_argument("--epochs", type=_positive_int, default=5, help="default: %(default)s")
    train.add_argument("--batch-size", type=_positive_int, default=32, help="default: %(default)s")
    train.add_argument(
        "--seed", type=_non_negative_int, default=None, help="make the run repeatable"
    )
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(handler=cmd_train)


def _add_stubs(commands: Any) -> None:
    stubs = commands.add_parser(
        "stubs",
        help="check (or rewrite) the student stubs against the reference solution",
        description="Generate the student stubs from the solution's answer markers, and the "
        "README's table of functions from the solution and the test files; compare them with "
        "the files (exit 1 when they differ), or rewrite them with --write.",
    )
    stubs.add_argument("--solution", type=Path, default=DEFAULT_SOLUTION)
    stubs.add_argument("--stubs", type=Path, default=Path("exercises/digits.py"))
    stubs.add_argument("--tests", type=Path, default=Path("autograder/tests"))
    stubs.add_argument(
        "--readme",
        type=Path,
        default=None,
        help="the README whose table of functions is generated too (default: README.md, for "
        "the default --solution)",
    )
    stubs.add_argument(
        "--write", action="store_true", help="rewrite the stubs file and the README's table"
    )
    stubs.set_defaults(handler=cmd_stubs)


def _add_grade(commands: Any) -> None:
    grade = commands.add_parser(
        "grade",
        help="grade submissions (one file, or a course's: folders, LMS bulk-download zips)",
        description="Grade submissions with the hidden and public tests, each in a sandboxed "
        "worker process. With --results: one .py or .ipynb, its Gradescope-format results "
        "written to FILE. Otherwise a batch: files, folders and the zips Gradescope, Canvas and "
        "Moodle bulk downloads give, graded in parallel into --out (one results JSON and "
        "feedback page per student, gradebook.csv, canvas.csv, moodle.csv); rerun the same "
        "command to resume an interrupted batch. Exit 0 whenever grading completed, whatever "
        "the scores.",
    )
    grade.add_argument(
        "submissions",
        type=Path,
        nargs="+",
        metavar="SUBMISSION",
        help="a digits.py or .ipynb, a folder of submissions, or an LMS bulk-download zip",
    )
    grade.add_argument(
        "--results",
        type=Path,
        default=None,
        help="grade one submission and write its results JSON (Gradescope format) here",
    )
    grade.add_argument(
        "--out",
        type=Path,
        default=None,
        help="batch: folder to write (absent, empty or an earlier batch; default: "
        f"{DEFAULT_GRADES_DIR})",
    )
    grade.add_argument(
        "--jobs",
        type=_positive_int,
        default=None,
        help=f"batch: submissions graded at once (default: the number of cores, {os.cpu_count()})",
    )
    grade.add_argument(
        "--tests",
        type=Path,
        default=None,
        help="folder of the autograder's otter test files, hidden cases included (default: the "
        "tests shipped with mnist-lab; the students' public tests/ cannot grade)",
    )
    grade.add_argument(
        "--autograder",
        type=Path,
        default=None,
        help="a built autograder.zip: grade with its tests and points (default: "
        "mnist-lab-release/autograder/autograder.zip when it exists, so a build's --points "
        "carry over; else the tests shipped with mnist-lab)",
    )
    grade.add_argument(
        "--time-limit",
        type=_positive_float,
        default=DEFAULTS.time_limit,
        help="seconds allowed per call of a student function (default: %(default)s)",
    )
    grade.add_argument(
        "--budget",
        type=_positive_float,
        default=DEFAULTS.budget,
        help="seconds allowed for grading one submission in all (default: %(default)s)",
    )
    grade.add_argument(
        "--memory-limit",
        type=_positive_float,
        default=DEFAULTS.memory_bytes / 1e6,
        metavar="MB",
        help="memory one submission's sandbox may use, in MB (default: %(default)g)",
    )
    grade.add_argument(
        "--cluster",
        default=None,
        metavar="ADDRESS",
        help="batch: grade on the workers of this Dask scheduler (tcp://HOST:PORT; workers "
        'need pip install "mnist-lab[cluster]"); results, gradebooks and feedback are written '
        "here as for a local batch",
    )
    grade.add_argument(
        "--no-fork-server",
        dest="fork_server",
        action="store_false",
        help="start a fresh Python (and TensorFlow's import) for every submission's sandbox "
        "instead of forking it from a warm fork server (which is used only where every "
        "protection is available: see mnist-lab doctor)",
    )
    grade.add_argument(
        "--name",
        default=None,
        help=f"batch: assignment name in the gradebooks and feedback (default: {ASSIGNMENT_NAME})",
    )
    grade.add_argument(
        "--canvas-assignment-id",
        default=None,
        help="batch: the Canvas assignment's id, so canvas.csv updates that assignment",
    )
    grade.set_defaults(handler=cmd_grade)


def _add_check(commands: Any) -> None:
    check = commands.add_parser(
        "check",
        help="run the public checks on your digits.py (exit 1 unless all pass)",
        description="Run the public test cases on a submission and print what passed.",
    )
    check.add_argument("submission", type=Path, help="your digits.py or digits.ipynb")
    check.add_argument("--tests", type=Path, default=None, help=argparse.SUPPRESS)
    check.set_defaults(handler=cmd_check)


def _add_doctor(commands: Any) -> None:
    doctor = commands.add_parser(
        "doctor",
        help="say which sandbox protections grading gets on this machine",
        description="Start a real grading sandbox and report which protections are active "
        "(namespaces, control group, separate user) and why any is missing; exit 2 when "
        "grading cannot run here at all.",
    )
    doctor.set_defaults(handler=cmd_doctor)


def _add_quiz(commands: Any) -> None:
    from mnist_lab.quiz.build import DEFAULT_VARIANTS  # the quiz's own default

    quiz = commands.add_parser(
        "quiz",
        help="write the quiz: self-check page, answer key, QTI zip, Moodle XML, GIFT",
        description="Validate the question bank and write the student's self-check page, the "
        "answer key and the LMS exports (QTI 1.2 zip for Canvas, Moodle XML, GIFT). Each "
        "parameterised question gets --variants variants drawn with --seed; the same seed gives "
        "the same files (a student's own seed: mnist_lab.quiz.variants.student_seed(id)).",
    )
    quiz.add_argument(
        "--out",
        type=Path,
        default=Path("mnist-lab-quiz"),
        help="folder to write into (created if absent; default: %(default)s)",
    )
    quiz.add_argument(
        "--seed", type=_non_negative_int, default=0, help="seed of the variants (default: 0)"
    )
    quiz.add_argument(
        "--variants",
        type=_non_negative_int,
        default=DEFAULT_VARIANTS,
        help="variants per parameterised question, 0 to 20 (default: %(default)s)",
    )
    quiz.add_argument(*PRACTICE_QUIZ_FLAG, **PRACTICE_QUIZ_OPTION)
    quiz.set_defaults(handler=cmd_quiz)


def _add_autograder(commands: Any) -> None:
    autograder = commands.add_parser(
        "autograder",
        help="write autograder.zip for Gradescope (also graded by otter run)",
        description="Build autograder.zip with otter generate: Gradescope's run_autograder grades "
        "with mnist-lab's harness; 'otter run -a autograder.zip digits.py' also works.",
    )
    autograder.add_argument(
        "--out",
        type=Path,
        default=Path("."),
        help="folder to write autograder.zip into (created if absent; default: current folder)",
    )
    autograder.add_argument(
        "--points",
        type=_positive_float,
        default=None,
        help="total points; every case is scaled to add up to it (default: the tests' own 80)",
    )
    autograder.set_defaults(handler=cmd_autograder)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog=PROG,
        description="An auto-graded exercise and quiz on handwritten-digit recognition (MNIST).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in (
        _add_build,
        _add_train,
        _add_stubs,
        _add_grade,
        _add_check,
        _add_doctor,
        _add_quiz,
        _add_autograder,
    ):
        add(commands)
    return parser


def user_errors() -> tuple[type[BaseException], ...]:
    """The exceptions that mean 'the input was wrong', reported in one line."""
    from mnist_lab.grading.sandbox import SandboxError

    return (UserError, SandboxError, FileNotFoundError, PermissionError)


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    return f"mnist-lab: warning: {message}\n"


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ chatter out
    warnings.formatwarning = _one_line_warning  # users see one line, not our source code
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except user_errors() as error:
        print(f"mnist-lab: error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt as interrupt:
        print(f"mnist-lab: {interrupt or 'interrupted'}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
