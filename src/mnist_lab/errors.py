"""The one error type for a user's mistake (a bad option, input or file), as opposed to a bug."""

from __future__ import annotations


class UserError(Exception):
    """What the CLI reports as ``mnist-lab: error: <message>`` and exits with status 2."""
