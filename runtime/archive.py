"""Reproducible zip archives: sorted entries, one timestamp, mode 0644, fixed compression.

The timestamp is 1980-01-01 (``ZIP_EPOCH``, the earliest a zip entry can hold) or
SOURCE_DATE_EPOCH when it is set and later: two builds of the same files give identical bytes.
Used by ``runtime package`` (the bundle) and ``runtime export`` (exporters/common.py); imports
nothing of this project.
"""

from __future__ import annotations

import io
import os
import time
import zipfile
from pathlib import Path
from typing import Mapping

ZIP_EPOCH = 315532800  # 1980-01-01T00:00:00Z, the earliest time a zip entry can hold
STORED = (".whl", ".png", ".zip", ".gz")  # already compressed: stored as they are


def epoch() -> int:
    """SOURCE_DATE_EPOCH when it is set (and not before ZIP_EPOCH), else ZIP_EPOCH."""
    text = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    return max(int(text), ZIP_EPOCH) if text.isdigit() else ZIP_EPOCH


def mode_of(data: bytes) -> int:
    """A file's mode: a script (its first line is #!...) is executable, as a platform runs it."""
    return 0o755 if data.startswith(b"#!") else 0o644


def zip_bytes(entries: Mapping[str, bytes]) -> bytes:
    """The zip of ``entries`` ({posix path: bytes}): sorted, one timestamp, mode 0644 (0755 for
    a script: it starts with #!), deflate level 9 (already compressed files stored)."""
    date_time = time.gmtime(epoch())[:6]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time)
            info.create_system = 3  # unix, so that external_attr means a file mode
            info.external_attr = (0o100000 | mode_of(entries[name])) << 16
            info.compress_type = (
                zipfile.ZIP_STORED if name.endswith(STORED) else zipfile.ZIP_DEFLATED
            )
            archive.writestr(info, entries[name], compresslevel=9)
    return buffer.getvalue()


def write_zip(path: Path, entries: Mapping[str, bytes]) -> None:
    """``zip_bytes(entries)`` written to ``path`` (beside it first, then swapped in)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(zip_bytes(entries))
    os.replace(partial, path)
