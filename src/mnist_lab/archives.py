"""Zip files that are the same bytes on every build (fixed dates, modes and order).

Entries carry a fixed date, so two builds give the same bytes. Files people unpack and look at
(``student.zip``) are dated :func:`archive_date`: the release date of this version of mnist-lab
(RELEASE_DATE) rather than 1980-01-01, which file browsers show as "46 years ago". Set
``SOURCE_DATE_EPOCH`` (seconds since 1970, the reproducible-builds.org convention) to stamp
another date, for example the day a course's release was built. Zips only machines read (QTI,
the autograder) keep the earliest date a zip can hold.
"""

from __future__ import annotations

import os
import time
import zipfile
from io import BytesIO

# The date that goes with RELEASED_VERSION; a test fails when the version changes without it.
RELEASED_VERSION = "0.1.0"
RELEASE_DATE = (2026, 12, 2, 0, 0, 0)
FIXED_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip entry can hold
DateTime = tuple[int, int, int, int, int, int]


class ArchiveDateError(ValueError):
    """SOURCE_DATE_EPOCH is set to something that is not a date a zip entry can hold."""


def archive_date() -> DateTime:
    """The date of the files students unpack: SOURCE_DATE_EPOCH (UTC) if set, else RELEASE_DATE."""
    value = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not value:
        return RELEASE_DATE
    try:
        stamp = time.gmtime(int(value))
    except (ValueError, OverflowError, OSError):
        raise ArchiveDateError(
            f"SOURCE_DATE_EPOCH={value!r} is not a whole number of seconds since 1970"
        ) from None
    date = tuple(stamp[:6])
    if not FIXED_DATE <= date <= (2107, 12, 31, 23, 59, 59):
        raise ArchiveDateError(
            f"SOURCE_DATE_EPOCH={value} is {time.strftime('%Y-%m-%d', stamp)}: a zip entry "
            "can only hold dates from 1980 to 2107"
        )
    return date


def zip_entry(name: str, *, date: DateTime = FIXED_DATE) -> zipfile.ZipInfo:
    """An entry named ``name`` dated ``date``, with Unix mode 0644 and deflate compression."""
    info = zipfile.ZipInfo(name, date_time=date)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3  # Unix, whatever system builds it
    info.external_attr = 0o644 << 16
    return info


def deterministic_zip(files: dict[str, bytes], *, date: DateTime = FIXED_DATE) -> bytes:
    """A zip of ``files`` (name -> bytes) in name order, every entry dated ``date``: the same
    input gives the same bytes."""
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(files):
            archive.writestr(zip_entry(name, date=date), files[name])
    return buffer.getvalue()
