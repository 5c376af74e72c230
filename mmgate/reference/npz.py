"""Atomic, pickle-free .npz writing and reading, and a stable sha256 over named arrays."""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from collections.abc import Mapping

import numpy as np

from mmgate.errors import InputError
from mmgate.records.atomic import write_bytes_atomic


def arrays_sha256(arrays: Mapping[str, np.ndarray]) -> str:
    """sha256 over (name, dtype, shape, C-order bytes) of every array, in sorted name order."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode("utf-8"))
        h.update(a.tobytes())
    return h.hexdigest()


def write_npz_atomic(path: str | os.PathLike[str], arrays: Mapping[str, np.ndarray]) -> None:
    """Write `arrays` as an uncompressed .npz atomically (mmgate.records.atomic: temp file + os.replace)."""
    for name, a in arrays.items():
        if np.asarray(a).dtype.hasobject:
            raise InputError(f"arrays[{name!r}]: object arrays would need pickle; "
                             "store plain dtypes")
    buffer = io.BytesIO()
    np.savez(buffer, **{k: np.asarray(v) for k, v in arrays.items()})
    write_bytes_atomic(path, buffer.getvalue())


def read_npz(path: str | os.PathLike[str], required: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """Every array of a .npz read with allow_pickle=False; InputError if unreadable or keys miss."""
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise InputError(f"path: cannot read {str(path)!r} as a pickle-free .npz ({exc})") from exc
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise InputError(f"path: {str(path)!r} holds a single array, expected an .npz archive")
    try:
        with data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise InputError(f"path: cannot read {str(path)!r} as a pickle-free .npz ({exc})") from exc
    missing = [k for k in required if k not in arrays]
    if missing:
        raise InputError(f"path: {str(path)!r} lacks the arrays {missing}")
    return arrays


def scalar_str(arrays: Mapping[str, np.ndarray], key: str) -> str:
    """A 0-d string array as str."""
    return str(arrays[key][()])
