"""Atomic file writes: a temp file in the target's directory, fsync, then ``os.replace``.

A reader sees either the old file or the complete new one, never a half-written file, and a
failed write leaves no temp file behind.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from mmgate.records.hashing import sha256_bytes

_FILE_MODE = 0o644


def _fsync_directory(directory: Path) -> None:
    """Persist a rename on POSIX; platforms that cannot open directories skip it."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_bytes_atomic(path: str | Path, data: bytes) -> str:
    """Write ``data`` to ``path`` atomically (parent directories are created); return its sha256."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, _FILE_MODE)
        os.replace(tmp_name, target)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise
    _fsync_directory(target.parent)
    return sha256_bytes(data)


def write_text_atomic(path: str | Path, text: str) -> str:
    """Write ``text`` as UTF-8 (newlines untranslated) atomically; return the sha256 of the bytes."""
    return write_bytes_atomic(path, text.encode("utf-8"))
