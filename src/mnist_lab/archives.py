"""Zip files that are the same bytes on every build (fixed dates, modes and order)."""

from __future__ import annotations

import zipfile
from io import BytesIO

FIXED_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip entry can hold


def zip_entry(name: str) -> zipfile.ZipInfo:
    """An entry named ``name`` with a fixed date, Unix mode 0644 and deflate compression."""
    info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3  # Unix, whatever system builds it
    info.external_attr = 0o644 << 16
    return info


def deterministic_zip(files: dict[str, bytes]) -> bytes:
    """A zip of ``files`` (name -> bytes) in name order: the same input gives the same bytes."""
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(files):
            archive.writestr(zip_entry(name), files[name])
    return buffer.getvalue()
