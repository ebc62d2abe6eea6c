"""Writing files so that readers never see half of one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_text_atomically(path: Path, text: str, *, newline: str | None = None) -> None:
    """Write ``text`` (UTF-8) to a temp file beside ``path``, then rename it over ``path``.

    A reader sees the old file or the new one, never a part; on any error the old file is left
    as it was and the temp file is removed. The file is world-readable (0644), like the folders
    it is shared from.
    """
    path = Path(path)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline=newline) as stream:
            stream.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
