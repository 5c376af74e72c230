"""``PairedSet``: a canary of paired items (row i of the images with row i of the texts), optional
per-row labels and relevance groups, and a content fingerprint; plus the row access every consumer
of a canary uses. ``PairedSet.from_manifest`` reads one from a CSV or JSONL table of image files,
``PairedSet.from_coco`` from a COCO, Karpathy or retrieval-list captions JSON."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np

from mmgate.errors import InputError
from mmgate.subjects.coco import coco_fields
from mmgate.subjects.manifest import manifest_fields


@runtime_checkable
class LazyRows(Protocol):
    """Rows produced on access (image files decoded, a perturbation applied): selecting rows stays
    lazy and the content is fingerprinted without producing every row (``ImageFiles`` is one)."""

    def __len__(self) -> int: ...

    def __getitem__(self, key: Any) -> Any: ...

    def take(self, indices: Sequence[int] | np.ndarray) -> LazyRows:
        """The rows ``indices``, still lazy."""
        ...

    def fingerprint(self) -> str:
        """Hex sha256 of the content, computed without holding every row."""
        ...


def rows_of(items: Any, indices: Sequence[int] | np.ndarray | range) -> Any:
    """The rows ``indices`` of an array (fancy indexing), of lazy rows (still lazy) or of any other
    sequence (as a list)."""
    if isinstance(items, np.ndarray):
        return items[np.asarray(indices, dtype=np.intp)]
    if isinstance(items, LazyRows):
        return items.take(indices)
    return [items[int(i)] for i in indices]


def row_slice(items: Any, start: int, stop: int) -> Any:
    """Rows ``start:stop`` of an array, list or tuple (by slicing), or of any other sequence."""
    if isinstance(items, (np.ndarray, list, tuple)):
        return items[start:stop]
    return [items[i] for i in range(start, stop)]


def _length(field: str, items: Any) -> int:
    if isinstance(items, (str, bytes, Mapping)) or not hasattr(items, "__getitem__"):
        raise InputError(f"PairedSet.{field}: expected an array or a sequence indexed by row, "
                         f"got {type(items).__name__}")
    if isinstance(items, np.ndarray) and items.ndim == 0:
        raise InputError(f"PairedSet.{field}: expected an array with a row axis, got a 0-d array")
    try:
        return len(items)
    except TypeError as exc:
        raise InputError(f"PairedSet.{field}: expected a sized sequence, got "
                         f"{type(items).__name__}") from exc


def _labels(field: str, labels: Any, n: int) -> dict[str, np.ndarray]:
    if labels is None:
        return {}
    if not isinstance(labels, Mapping):
        raise InputError(f"PairedSet.{field}: expected a mapping of name to label array, got "
                         f"{type(labels).__name__}")
    out: dict[str, np.ndarray] = {}
    for name, values in labels.items():
        if not isinstance(name, str) or not name:
            raise InputError(f"PairedSet.{field}: expected non-empty string names, got {name!r}")
        arr = np.asarray(values)
        if arr.ndim != 1 or arr.shape[0] != n or not np.issubdtype(arr.dtype, np.integer):
            raise InputError(f"PairedSet.{field}[{name!r}]: expected a 1-D integer label array of "
                             f"length {n}, got dtype {arr.dtype} shape {arr.shape}")
        copy = arr.astype(np.int64)
        copy.setflags(write=False)
        out[name] = copy
    return out


def _groups(groups: Any, n: int) -> np.ndarray | None:
    if groups is None:
        return None
    arr = np.asarray(groups)
    if arr.ndim != 1 or arr.shape[0] != n or not np.issubdtype(arr.dtype, np.integer):
        raise InputError(f"PairedSet.groups: expected a 1-D integer label array of length {n}, got "
                         f"dtype {arr.dtype} shape {arr.shape}")
    copy = arr.astype(np.int64)
    copy.setflags(write=False)
    return copy


def _item_ids(field: str, ids: Any, n: int) -> np.ndarray | None:
    """Explicit per-row item ids (integers or strings): rows with equal ids hold one item."""
    if ids is None:
        return None
    arr = np.asarray(ids)
    if arr.ndim != 1 or arr.shape[0] != n or not (np.issubdtype(arr.dtype, np.integer)
                                                  or arr.dtype.kind == "U"):
        raise InputError(f"PairedSet.{field}: expected a 1-D array of integer or string ids of "
                         f"length {n}, got dtype {arr.dtype} shape {arr.shape}")
    copy = arr.astype(np.int64) if arr.dtype.kind in "iu" else arr.copy()
    copy.setflags(write=False)
    return copy


def _frame(tag: bytes, payload: bytes) -> bytes:
    return tag + len(payload).to_bytes(8, "big") + payload


def _array_bytes(arr: np.ndarray, where: str) -> bytes:
    if arr.dtype.hasobject:
        head = _frame(b"O", json.dumps(list(arr.shape)).encode())
        return head + b"".join(_item_bytes(x, f"{where}[{i}]") for i, x in enumerate(arr.flat))
    header = json.dumps([arr.dtype.str, list(arr.shape)]).encode()
    return _frame(b"A", header) + _frame(b"D", np.ascontiguousarray(arr).tobytes())


def _item_bytes(item: Any, where: str) -> bytes:
    if isinstance(item, np.ndarray):
        return _array_bytes(item, where)
    if isinstance(item, str):
        return _frame(b"S", item.encode("utf-8"))
    if isinstance(item, os.PathLike):
        return _frame(b"P", os.fspath(item).encode("utf-8", "surrogateescape"))
    if isinstance(item, (bytes, bytearray)):
        return _frame(b"B", bytes(item))
    if isinstance(item, (bool, int, float, np.generic)):
        return _frame(b"N", repr(item.item() if isinstance(item, np.generic) else item).encode())
    if isinstance(item, (list, tuple)):
        inner = b"".join(_item_bytes(x, f"{where}[{i}]") for i, x in enumerate(item))
        return _frame(b"L", inner)
    raise InputError(f"{where}: cannot fingerprint an item of type {type(item).__name__}; use "
                     f"arrays, strings, paths, bytes or numbers")


def _items_bytes(items: Any, where: str) -> bytes:
    if isinstance(items, np.ndarray):
        return _array_bytes(items, where)
    if isinstance(items, LazyRows):
        return _frame(b"Z", items.fingerprint().encode())
    return _item_bytes(list(row_slice(items, 0, len(items))), where)


@dataclass(frozen=True, eq=False)
class PairedSet:
    """N paired items (row i of ``images`` goes with row i of ``texts``) plus optional labels.

    mmgate only slices ``images``/``texts`` and hands slices to the encoder; ``factors`` and
    ``confounders`` map a name to an integer label per row. ``groups`` (optional, an integer label
    per row) widens relevance beyond the pair: a candidate is relevant to a query when they share a
    group (the five captions of one image, the images of one class). ``image_ids`` / ``text_ids``
    (optional, an integer or string id per row) say which rows hold the same item; without them
    identical content is one item (see ``mmgate.subjects.items``).
    """

    images: Any
    texts: Any
    factors: Mapping[str, np.ndarray] | None = None
    confounders: Mapping[str, np.ndarray] | None = None
    name: str = "canary"
    groups: np.ndarray | None = None
    image_ids: np.ndarray | None = None
    text_ids: np.ndarray | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InputError(f"PairedSet.name: expected a non-empty string, got {self.name!r}")
        n_images = _length("images", self.images)
        n_texts = _length("texts", self.texts)
        if n_images != n_texts:
            raise InputError(f"PairedSet: images and texts must pair row by row, got "
                             f"{n_images} images and {n_texts} texts")
        if n_images < 2:
            raise InputError(f"PairedSet: expected at least 2 pairs, got {n_images}")
        object.__setattr__(self, "factors", _labels("factors", self.factors, n_images))
        object.__setattr__(self, "confounders", _labels("confounders", self.confounders, n_images))
        object.__setattr__(self, "groups", _groups(self.groups, n_images))
        object.__setattr__(self, "image_ids", _item_ids("image_ids", self.image_ids, n_images))
        object.__setattr__(self, "text_ids", _item_ids("text_ids", self.text_ids, n_images))

    @classmethod
    def from_manifest(cls, path: str | os.PathLike, image_column: str = "image",
                      text_column: str = "caption", group_column: str | None = None,
                      factor_columns: Sequence[str] = (), confounder_columns: Sequence[str] = (),
                      name: str | None = None) -> PairedSet:
        """A canary read from a CSV or JSONL table of (image file, caption) rows, images decoded
        lazily; see ``mmgate.subjects.manifest``."""
        return cls(**manifest_fields(path, image_column=image_column, text_column=text_column,
                                     group_column=group_column, factor_columns=factor_columns,
                                     confounder_columns=confounder_columns, name=name))

    @classmethod
    def from_coco(cls, captions_json: str | os.PathLike, image_dir: str | os.PathLike,
                  split: str | Sequence[str] | None = None, limit_images: int | None = None,
                  name: str | None = None) -> PairedSet:
        """A canary read from a COCO captions, Karpathy split or retrieval-list JSON, one row per
        (image, caption), images decoded lazily; see ``mmgate.subjects.coco``."""
        return cls(**coco_fields(captions_json, image_dir, split=split, limit_images=limit_images, name=name))

    def __len__(self) -> int:
        return len(self.images)

    def take(self, indices: Sequence[int] | np.ndarray) -> PairedSet:
        """The pairs at ``indices`` (repeats allowed), labels sliced alongside; pairing is kept."""
        idx = np.asarray(indices)
        n = len(self)
        if idx.ndim != 1 or (idx.size and not np.issubdtype(idx.dtype, np.integer)):
            raise InputError(f"PairedSet.take indices: expected a 1-D integer array, got dtype "
                             f"{idx.dtype} shape {idx.shape}")
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise InputError(f"PairedSet.take indices: expected values in [0, {n}), got "
                             f"min {idx.min()} max {idx.max()}")
        return PairedSet(
            images=rows_of(self.images, idx),
            texts=rows_of(self.texts, idx),
            factors={k: v[idx] for k, v in self.factors.items()},
            confounders={k: v[idx] for k, v in self.confounders.items()},
            name=self.name,
            groups=None if self.groups is None else self.groups[idx],
            image_ids=None if self.image_ids is None else self.image_ids[idx],
            text_ids=None if self.text_ids is None else self.text_ids[idx],
        )

    def items_fingerprint(self, field: str) -> str:
        """Hex sha256 of one modality's items (``"images"`` or ``"texts"``), so a perturbation that
        leaves that modality unchanged can reuse its embeddings."""
        if field not in ("images", "texts"):
            raise InputError(f"items_fingerprint: expected 'images' or 'texts', got {field!r}")
        return hashlib.sha256(_items_bytes(getattr(self, field), f"{self.name}.{field}")).hexdigest()

    def fingerprint(self) -> str:
        """Hex sha256 of the content (items, labels and groups, not the name): a cache key. Lazy
        rows (``ImageFiles``: their file bytes) contribute their own fingerprint, never decoded pixels."""
        digest = hashlib.sha256()
        digest.update(_frame(b"I", _items_bytes(self.images, f"{self.name}.images")))
        digest.update(_frame(b"T", _items_bytes(self.texts, f"{self.name}.texts")))
        for tag, labels in ((b"F", self.factors), (b"C", self.confounders)):
            for key in sorted(labels):
                digest.update(_frame(tag, _frame(b"K", key.encode()) + _array_bytes(
                    labels[key], key)))
        if self.groups is not None:
            digest.update(_frame(b"G", _array_bytes(self.groups, "groups")))
        for tag, ids in ((b"J", self.image_ids), (b"U", self.text_ids)):
            if ids is not None:
                digest.update(_frame(tag, _array_bytes(ids, "ids")))
        return digest.hexdigest()
