"""Every limit of grading, defined once: ``GradingConfig``.

One object holds what bounds a grading run (time per call and for the whole run, memory,
processes, file size, reply size, how often a failing function is retried). The CLI sets the
fields a user needs (``--time-limit``, ``--budget``, ``--memory-limit``); a batch hashes the whole
object into its resume fingerprint, so changing any limit regrades everything.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, fields

from mnist_lab.errors import UserError


class ConfigError(UserError):
    """A limit that cannot work (not a positive number...)."""


@dataclass(frozen=True)
class GradingConfig:
    time_limit: float = 20.0  # seconds one call of a student function may take
    budget: float = 540.0  # seconds for the whole run (Gradescope's default timeout: 600)
    # The sandbox's memory, everything counted: TensorFlow and the reference take 0.7 GB.
    memory_bytes: int = 1_300_000_000
    max_processes: int = 512  # processes and threads together: TensorFlow starts many
    max_file_bytes: int = 64 * 1024**2  # the largest file student code may write
    # The largest reply a worker may send: a model's weights (101,770 float32 values) take
    # 0.55 MB as base64; 8 MB leaves room for float64 and larger (wrong) models.
    max_reply_bytes: int = 8 * 1024**2
    import_time: float = 60.0  # starting the sandbox (TensorFlow's import) on a loaded machine
    fit_time_factor: int = 6  # a model's fit gets this many per-call time limits
    # A function that made the worker fail this often fails its remaining cases unrun.
    max_worker_failures: int = 2

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"{field.name} must be a number, got {value!r}")
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"{field.name} must be a positive number, got {value!r}")

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    def fingerprint(self) -> str:
        """A hash of every limit (a batch regrades when any changes)."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


DEFAULTS = GradingConfig()
