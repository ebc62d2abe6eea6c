"""The one error type the command line reports as ``mnist-lab: error: ...`` (exit status 2)."""


class UserError(Exception):
    """What the user gave was wrong (a path, an option, a file); the text says what and where."""
