"""Reproducible zips for ``runtime package`` and ``runtime export``: two builds of the same files
give identical bytes. Imports nothing of this project."""

import io
import os
import time
import zipfile
from typing import Mapping

ZIP_EPOCH = 315532800  # 1980-01-01T00:00:00Z, the earliest time a zip entry can hold
STORED = (".whl", ".png", ".zip", ".gz")  # already compressed


def epoch() -> int:
    text = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    return max(int(text), ZIP_EPOCH) if text.isdigit() else ZIP_EPOCH


def mode_of(data: bytes) -> int:
    """A script (#!...) is executable, as a platform runs it."""
    return 0o755 if data.startswith(b"#!") else 0o644


def zip_bytes(entries: Mapping[str, bytes]) -> bytes:
    date_time = time.gmtime(epoch())[:6]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time)
            info.create_system = 3  # unix, so that external_attr means a file mode
            info.external_attr = (0o100000 | mode_of(entries[name])) << 16
            kind = zipfile.ZIP_STORED if name.endswith(STORED) else zipfile.ZIP_DEFLATED
            archive.writestr(info, entries[name], kind, compresslevel=9)
    return buffer.getvalue()
