"""``ImageFiles``: image files read lazily as RGB uint8 arrays (H, W, 3), one row at a time, so a
canary of 100,000 files is never decoded at once; fingerprinted by file bytes, not pixels.

Pillow is an optional extra (``pip install 'mmgate[images]'``) imported only when a file is opened.
Accepted 8-bit modes (1, L, LA, P, PA, RGB, RGBA, RGBX, YCbCr) are converted with
``convert("RGB")`` (alpha is dropped, as CLIP-style preprocessing does). Refused: 16/32-bit and
float modes (I;16*, I, F: no meaningful 8-bit RGB without a chosen window) and CMYK (needs an ICC
profile to convert faithfully).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mmgate.errors import ConfigError, InputError

ACCEPTED_MODES = frozenset({"1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "YCbCr"})
PILLOW_HINT = "reading image files needs Pillow: pip install 'mmgate[images]' (or pip install Pillow)"
_CHUNK = 1 << 20


def pillow_image() -> Any:
    """The ``PIL.Image`` module, or a ConfigError saying how to install the optional extra."""
    try:
        from PIL import Image
    except ImportError as exc:
        raise ConfigError(PILLOW_HINT) from exc
    return Image


def file_digest(path: str) -> str:
    """Hex sha256 of a file's bytes, streamed in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _frame(tag: bytes, payload: bytes) -> bytes:
    return tag + len(payload).to_bytes(8, "big") + payload


@dataclass(frozen=True, eq=False)
class ImageFiles(Sequence):
    """Row i is the image file ``root/files[i]`` (data row ``rows[i]`` of ``table``, column
    ``column``, named in every error); indexing decodes, slicing and fancy rows give lists."""

    root: str
    files: tuple[str, ...]
    rows: tuple[int, ...]
    table: str
    column: str
    _digests: dict[str, tuple[tuple[int, int, int], str]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if len(self.files) != len(self.rows):
            raise InputError(f"ImageFiles: {len(self.files)} files but {len(self.rows)} row numbers")

    def __len__(self) -> int:
        return len(self.files)

    def __iter__(self) -> Iterator[np.ndarray]:
        return (self[i] for i in range(len(self)))

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, (int, np.integer)) and not isinstance(key, (bool, np.bool_)):
            return self.decode(self._index(int(key)))
        if isinstance(key, slice):
            return [self.decode(i) for i in range(*key.indices(len(self)))]
        return [self.decode(self._index(int(i))) for i in _int_rows(key)]

    def _index(self, i: int) -> int:
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"ImageFiles index {i} out of range for {n} images")
        return i % n

    def where(self, i: int) -> str:
        """``table: row r, column 'c': file`` for row ``i``, the prefix of every error message."""
        return f"{self.table}: row {self.rows[i]}, column {self.column!r}: {self.path(i)}"

    def path(self, i: int) -> str:
        """The file of row ``i`` on disk."""
        return os.path.join(self.root, self.files[i])

    def decode(self, i: int) -> np.ndarray:
        """Row ``i`` decoded to a writable RGB uint8 array (H, W, 3); any failure names the row."""
        image_module = pillow_image()
        try:
            with image_module.open(self.path(i)) as image:
                _check_mode(image.mode, self.where(i))
                image.load()
                return np.array(image.convert("RGB"), dtype=np.uint8)
        except InputError:
            raise
        except (OSError, ValueError, SyntaxError, image_module.DecompressionBombError) as exc:
            raise InputError(f"{self.where(i)}: {_problem(exc, self.path(i))}") from exc

    def take(self, indices: Sequence[int] | np.ndarray) -> ImageFiles:
        """The rows ``indices`` as another lazy ``ImageFiles`` (nothing decoded), sharing the cache."""
        idx = [self._index(int(i)) for i in _int_rows(indices)]
        return ImageFiles(self.root, tuple(self.files[i] for i in idx),
                          tuple(self.rows[i] for i in idx), self.table, self.column, self._digests)

    def validate(self) -> None:
        """Open every distinct file and run Pillow's ``verify()`` plus the mode check, raising one
        InputError that lists every bad row (decoding stays lazy; this is the eager check)."""
        image_module = pillow_image()
        problems: list[str] = []
        checked: dict[str, str | None] = {}
        for i, name in enumerate(self.files):
            if name not in checked:
                checked[name] = _verify_problem(image_module, self.path(i))
            if checked[name] is not None:
                problems.append(f"{self.where(i)}: {checked[name]}")
        raise_all(problems, f"{len(problems)} of {len(self)} images are unreadable")

    def fingerprint(self) -> str:
        """Hex sha256 over (relative path, file-bytes digest) per row. A file is rehashed only when
        its size or modification time changed since this object (or one it was taken from) last
        hashed it (size, mtime, ctime), so a changed image on disk changes the fingerprint."""
        digest = hashlib.sha256()
        for i, name in enumerate(self.files):
            digest.update(_frame(b"P", name.encode("utf-8", "surrogateescape")))
            digest.update(_frame(b"H", self._file_digest(i).encode()))
        return digest.hexdigest()

    def content_keys(self) -> list[str]:
        """Per row, the digest of its file's bytes: rows naming the same file, or files with the
        same bytes, are one image (how ``mmgate.subjects.items`` counts unique images)."""
        return [self._file_digest(i) for i in range(len(self))]

    def _file_digest(self, i: int) -> str:
        path = self.path(i)
        try:
            stat = os.stat(path)
            stamp = (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
            cached = self._digests.get(path)
            if cached is None or cached[0] != stamp:
                cached = (stamp, file_digest(path))
                self._digests[path] = cached
        except OSError as exc:
            raise InputError(f"{self.where(i)}: {_problem(exc, path)}") from exc
        return cached[1]


def _int_rows(key: Any) -> list[int]:
    arr = np.asarray(key)
    if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
        raise TypeError(f"ImageFiles rows: expected an int, a slice or a 1-D integer sequence, got "
                        f"{type(key).__name__}")
    return arr.tolist()


def _check_mode(mode: str, where: str) -> None:
    if mode not in ACCEPTED_MODES:
        raise InputError(f"{where}: unsupported image mode {mode!r}; accepted: "
                         f"{', '.join(sorted(ACCEPTED_MODES))} (converted to RGB, alpha dropped)")


def _verify_problem(image_module: Any, path: str) -> str | None:
    """Why Pillow cannot verify ``path`` (None when it can): structure, checksums and mode."""
    try:
        with image_module.open(path) as image:
            _check_mode(image.mode, "image")
            image.verify()
    except InputError as exc:
        return str(exc).removeprefix("image: ")
    except (OSError, ValueError, SyntaxError, image_module.DecompressionBombError) as exc:
        return _problem(exc, path)
    return None


def _problem(exc: BaseException, path: str) -> str:
    """What went wrong with the file at ``path``, without repeating the path (the error names it
    already): a file that cannot be opened (deleted, unreadable) is not a file that cannot be decoded."""
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        return f"cannot read the file ({exc.strerror})"
    reason = str(exc).replace(repr(path), "").replace(path, "").strip(" :") or type(exc).__name__
    return f"cannot decode the image ({reason})"


def relative_image_path(value: str, where: str, folder: str) -> str:
    """``value`` normalised, relative to ``folder`` (as the errors name it); refuses absolute paths
    and paths that escape it."""
    if os.path.isabs(value) or Path(value).drive:
        raise InputError(f"{where}: {value!r} is absolute; image paths must be relative to {folder}")
    relative = os.path.normpath(value)
    if relative == os.pardir or relative.startswith(os.pardir + os.sep):
        raise InputError(f"{where}: {value!r} escapes {folder}")
    return relative


def raise_all(problems: list[str], summary: str, shown: int = 20) -> None:
    """Raise one InputError with ``summary`` and every problem (the first ``shown``, then a count)."""
    if not problems:
        return
    listed = "\n  ".join(problems[:shown])
    more = f"\n  ... and {len(problems) - shown} more" if len(problems) > shown else ""
    raise InputError(f"{summary}:\n  {listed}{more}")
