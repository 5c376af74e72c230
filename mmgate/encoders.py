"""The subject under test: the DualEncoder protocol, the paired canary set, subject factories."""

from __future__ import annotations

import hashlib
import importlib
import json
import math
import os
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np

from mmgate.errors import ConfigError, InputError

ENCODER_METHODS = ("embed_images", "embed_texts")


class SubjectError(ConfigError):
    """A subject cannot be loaded or built: the message names the spec and the problem."""


@runtime_checkable
class DualEncoder(Protocol):
    """Two encoders into one space, each returning raw (pre-normalisation) ``(len(batch), d)`` rows.

    Optional: a ``temperature: float`` attribute, and ``identity() -> dict`` (name, version,
    weights digest) recorded in the manifest.
    """

    def embed_images(self, batch: Any) -> np.ndarray:
        """Raw image embeddings, one row per item of ``batch``."""
        ...

    def embed_texts(self, batch: Any) -> np.ndarray:
        """Raw text embeddings, one row per item of ``batch``."""
        ...


def rows_of(items: Any, indices: Sequence[int] | np.ndarray | range) -> Any:
    """The rows ``indices`` of an array (fancy indexing) or of any other sequence (as a list)."""
    if isinstance(items, np.ndarray):
        return items[np.asarray(indices, dtype=np.intp)]
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
    return _item_bytes(list(row_slice(items, 0, len(items))), where)


@dataclass(frozen=True, eq=False)
class PairedSet:
    """N paired items (row i of ``images`` goes with row i of ``texts``) plus optional labels.

    mmgate only slices ``images``/``texts`` and hands slices to the encoder; ``factors`` and
    ``confounders`` map a name to an integer label per row.
    """

    images: Any
    texts: Any
    factors: Mapping[str, np.ndarray] | None = None
    confounders: Mapping[str, np.ndarray] | None = None
    name: str = "canary"

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
        )

    def fingerprint(self) -> str:
        """Hex sha256 of the content (items and labels, not the name): a cache key."""
        digest = hashlib.sha256()
        digest.update(_frame(b"I", _items_bytes(self.images, f"{self.name}.images")))
        digest.update(_frame(b"T", _items_bytes(self.texts, f"{self.name}.texts")))
        for tag, labels in ((b"F", self.factors), (b"C", self.confounders)):
            for key in sorted(labels):
                digest.update(_frame(tag, _frame(b"K", key.encode()) + _array_bytes(
                    labels[key], key)))
        return digest.hexdigest()


def missing_encoder_methods(encoder: Any) -> tuple[str, ...]:
    """Names of the DualEncoder methods ``encoder`` lacks or has as non-callables."""
    return tuple(m for m in ENCODER_METHODS if not callable(getattr(encoder, m, None)))


def _json_ready(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


@dataclass(frozen=True)
class Subject:
    """What a run gates: a named dual encoder, its canary set of pairs and, optionally, (a sample
    of) the pairs it was trained on, which the training-pair audit and the input-drift gates read,
    and its own perturbation operators by name (factories called with ``intensity``, ``seed`` and
    parameters), for data the built-in operators do not understand."""

    name: str
    encoder: DualEncoder
    canary: PairedSet
    training: PairedSet | None = None
    operators: Mapping[str, Callable[..., Any]] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise SubjectError(f"Subject.name: expected a non-empty string, got {self.name!r}")
        missing = missing_encoder_methods(self.encoder)
        if missing:
            raise SubjectError(f"Subject.encoder: {type(self.encoder).__name__} lacks callable "
                               f"{', '.join(missing)}; a DualEncoder needs "
                               f"{' and '.join(ENCODER_METHODS)}")
        if not isinstance(self.canary, PairedSet):
            raise SubjectError(f"Subject.canary: expected a PairedSet, got "
                               f"{type(self.canary).__name__}")
        if self.training is not None and not isinstance(self.training, PairedSet):
            raise SubjectError(f"Subject.training: expected a PairedSet of training pairs or None, "
                               f"got {type(self.training).__name__}")
        if self.operators is not None:
            if not isinstance(self.operators, Mapping) or not all(
                    isinstance(k, str) and k.isidentifier() and callable(v) for k, v in self.operators.items()):
                raise SubjectError(f"Subject.operators: expected a mapping of operator name (an identifier) to "
                                   f"a callable factory, got {self.operators!r}")
            object.__setattr__(self, "operators", MappingProxyType(dict(self.operators)))

    def identity(self) -> dict[str, Any]:
        """The encoder's own ``identity()`` (a JSON-ready dict), else ``{"name": <type name>}``."""
        method = getattr(self.encoder, "identity", None)
        if method is None:
            return {"name": type(self.encoder).__name__}
        if not callable(method):
            raise SubjectError(f"Subject {self.name!r}: encoder.identity must be a method, got "
                               f"{type(method).__name__}")
        try:
            value = method()
        except Exception as exc:
            raise SubjectError(f"Subject {self.name!r}: encoder.identity() raised "
                               f"{type(exc).__name__}: {exc}") from exc
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value) \
                or not _json_ready(value):
            raise SubjectError(f"Subject {self.name!r}: encoder.identity() must return a "
                               f"JSON-ready dict with string keys, got {value!r}")
        return value


def declared_temperature(subject: Subject) -> float | None:
    """The scoring temperature the encoder declares with a ``temperature`` attribute, or None."""
    value = getattr(subject.encoder, "temperature", None)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value <= 0:
        raise SubjectError(f"Subject {subject.name!r}: encoder.temperature: expected a finite number "
                           f"> 0 (the scoring temperature), got {value!r}")
    return float(value)


def load_subject_factory(spec: str) -> Callable[[], Subject]:
    """The zero-argument callable named by ``"module:callable"`` (the callable may be dotted)."""
    if not isinstance(spec, str) or spec.count(":") != 1:
        raise SubjectError(f"subject spec {spec!r}: expected 'module:callable'")
    module_name, attr_path = (part.strip() for part in spec.split(":"))
    if not module_name or not attr_path:
        raise SubjectError(f"subject spec {spec!r}: expected 'module:callable' with both parts "
                           f"non-empty")
    try:
        target: Any = importlib.import_module(module_name)
    except Exception as exc:
        raise SubjectError(f"subject spec {spec!r}: cannot import module {module_name!r}: "
                           f"{type(exc).__name__}: {exc}") from exc
    for part in attr_path.split("."):
        if not hasattr(target, part):
            raise SubjectError(f"subject spec {spec!r}: module {module_name!r} has no attribute "
                               f"{attr_path!r}")
        target = getattr(target, part)
    if not callable(target):
        raise SubjectError(f"subject spec {spec!r}: {attr_path!r} is not callable (it is a "
                           f"{type(target).__name__})")
    return target


def make_subject(factory: Callable[[], Subject], origin: str) -> Subject:
    """Call a subject factory and check it returned a Subject; ``origin`` names it in errors."""
    try:
        subject = factory()
    except Exception as exc:
        raise SubjectError(f"subject factory {origin!r} raised {type(exc).__name__}: {exc}") \
            from exc
    if not isinstance(subject, Subject):
        raise SubjectError(f"subject factory {origin!r} returned {type(subject).__name__}; "
                           f"expected mmgate.Subject")
    return subject


def build_subject(spec: str) -> Subject:
    """Load the factory named by ``"module:callable"`` and build its subject."""
    return make_subject(load_subject_factory(spec), spec)
