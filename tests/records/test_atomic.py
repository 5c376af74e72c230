"""Atomic writes: complete new file or untouched old one, and never a stray temp file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mmgate.records import atomic
from mmgate.records.atomic import write_bytes_atomic, write_text_atomic
from mmgate.records.hashing import sha256_bytes


def test_write_bytes_atomic_creates_parents_and_returns_the_sha256(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "file.bin"
    assert write_bytes_atomic(target, b"payload") == sha256_bytes(b"payload")
    assert target.read_bytes() == b"payload"
    assert os.listdir(target.parent) == ["file.bin"]


def test_write_text_atomic_writes_utf8_without_newline_translation(tmp_path: Path) -> None:
    target = tmp_path / "t.md"
    write_text_atomic(target, "é\r\nx\n")
    assert target.read_bytes() == "é\r\nx\n".encode()


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_a_failure_mid_write_leaves_the_original_file_intact_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    target = tmp_path / "report.json"
    target.write_bytes(b"original")

    def boom(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, failing, boom)
    with pytest.raises(OSError, match="disk full"):
        write_bytes_atomic(target, b"new content that never lands")
    assert target.read_bytes() == b"original"
    assert os.listdir(tmp_path) == ["report.json"]


def test_an_interrupted_write_leaves_no_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(atomic.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_bytes_atomic(tmp_path / "x.bin", b"data")
    assert os.listdir(tmp_path) == []


def test_written_files_are_readable_by_others(tmp_path: Path) -> None:
    target = tmp_path / "x.json"
    write_bytes_atomic(target, b"{}")
    assert target.stat().st_mode & 0o777 == 0o644
