"""Batched, validated embedding of a paired set, and an explicit per-process cache of results."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence, TypeVar

import numpy as np

from mmgate.errors import ConfigError, InputError
from mmgate.records.canonical import canonical_json_line
from mmgate.subjects.encoder import missing_encoder_methods
from mmgate.subjects.paired import PairedSet, row_slice
from mmgate.subjects.subject import Subject, SubjectError

# modality -> (encoder method, PairedSet attribute)
_MODALITIES = (("image", "embed_images", "images"), ("text", "embed_texts", "texts"))

Progress = Callable[[int, int, str], None]
Cached = TypeVar("Cached")


class EncoderOutputError(InputError):
    """An encoder raised or returned unusable embeddings: names the modality, rows and problem."""


class EncoderRaised(EncoderOutputError):
    """The encoder itself raised on a batch (its output was never seen); the exception is the
    ``__cause__``. Kept apart from unusable output so the setup check can tell the two apart."""

    def __init__(self, message: str, modality: str = "", method: str = "", start: int = 0, stop: int = 0) -> None:
        super().__init__(message)
        self.modality, self.method, self.start, self.stop = modality, method, start, stop

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return type(self), (str(self), self.modality, self.method, self.start, self.stop)


class UnreadableRows(InputError):
    """Rows of a set could not be read before any encoder call (an image file that does not decode,
    a lazy row that raises): the input's fault, not the encoder's; the exception is the ``__cause__``."""

    def __init__(self, message: str, modality: str = "", start: int = 0, stop: int = 0) -> None:
        super().__init__(message)
        self.modality, self.start, self.stop = modality, start, stop

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return type(self), (str(self), self.modality, self.start, self.stop)


@dataclass(frozen=True, eq=False)
class Embeddings:
    """Raw (pre-normalisation) embeddings of N pairs as read-only float64 views, shared by gates."""

    z_img: np.ndarray
    z_txt: np.ndarray

    def __post_init__(self) -> None:
        for field in ("z_img", "z_txt"):
            arr = getattr(self, field)
            if not isinstance(arr, np.ndarray) or arr.ndim != 2 or arr.dtype.kind not in "iuf":
                raise InputError(f"Embeddings.{field}: expected a 2-D real array, got "
                                 f"{getattr(arr, 'dtype', type(arr).__name__)} "
                                 f"{getattr(arr, 'shape', '')}")
            view = np.asarray(arr, dtype=np.float64).view()
            view.setflags(write=False)
            object.__setattr__(self, field, view)
        if self.z_img.shape != self.z_txt.shape:
            raise InputError(f"Embeddings: z_img shape {self.z_img.shape} differs from z_txt "
                             f"shape {self.z_txt.shape}")

    @property
    def d(self) -> int:
        """Embedding dimension."""
        return int(self.z_img.shape[1])

    def __len__(self) -> int:
        return int(self.z_img.shape[0])


def _checked_batch(out: Any, modality: str, start: int, stop: int, d: int | None) -> np.ndarray:
    where = f"{modality} embeddings for rows {start}:{stop}"
    try:
        arr = np.asarray(out)
    except Exception as exc:
        raise EncoderOutputError(f"{where}: not convertible to an array "
                                 f"({type(exc).__name__}: {exc})") from exc
    if arr.dtype.kind not in "iuf":
        raise EncoderOutputError(f"{where}: expected a real numeric array, got dtype {arr.dtype}")
    if arr.ndim != 2:
        kind = "1-D output" if arr.ndim == 1 else f"{arr.ndim}-D output"
        raise EncoderOutputError(f"{where}: {kind}; expected shape (rows, d), got {arr.shape}")
    if arr.shape[0] != stop - start:
        raise EncoderOutputError(f"{where}: wrong row count: expected {stop - start}, got "
                                 f"{arr.shape[0]}")
    if arr.shape[1] == 0:
        raise EncoderOutputError(f"{where}: embedding dimension is 0")
    if d is not None and arr.shape[1] != d:
        raise EncoderOutputError(f"{where}: embedding dimension differs from earlier batches: "
                                 f"expected {d}, got {arr.shape[1]}")
    return arr


def check_values(z: np.ndarray, modality: str) -> None:
    """Count NaN, Inf and all-zero rows over the whole modality, so the error states the extent."""
    nan_rows = np.isnan(z).any(axis=1)
    inf_rows = np.isinf(z).any(axis=1)
    zero_rows = ~z.any(axis=1)
    bad = np.flatnonzero(nan_rows | inf_rows | zero_rows)
    if bad.size:
        raise EncoderOutputError(
            f"{modality} embeddings ({z.shape[0]} rows): {int(nan_rows.sum())} rows with NaN, "
            f"{int(inf_rows.sum())} rows with Inf, {int(zero_rows.sum())} all-zero rows "
            f"(first bad row {int(bad[0])})")


def _embed_range(embed: Callable[[Any], Any], items: Any, rows: range, modality: str, method: str,
                 batch_size: int, d: int | None, progress: Progress | None, total: int) -> np.ndarray:
    """Rows ``rows`` of one modality through ``embed`` in batches of ``batch_size`` counted from
    ``rows.start``, each checked as it comes and written into one float64 array allocated at the
    first batch (no list of batches concatenated: that would hold the modality twice)."""
    z: np.ndarray | None = None
    for start in range(rows.start, rows.stop, batch_size):
        stop = min(start + batch_size, rows.stop)
        try:
            batch = row_slice(items, start, stop)
        except Exception as exc:
            raise UnreadableRows(f"{modality} rows {start}:{stop} cannot be read: {type(exc).__name__}: {exc}",
                                 modality, start, stop) from exc
        try:
            out = embed(batch)
        except Exception as exc:
            raise EncoderRaised(f"{modality} encoder ({method}) raised on rows {start}:{stop}: "
                                f"{type(exc).__name__}: {exc}", modality, method, start, stop) from exc
        block = _checked_batch(out, modality, start, stop, d)
        d = block.shape[1]
        if z is None:
            z = np.empty((len(rows), d), dtype=np.float64)
        z[start - rows.start:stop - rows.start] = block
        if progress is not None:
            progress(stop, total, modality)
    assert z is not None, "callers embed at least one row"
    return z


def _embed_rows(embed: Callable[[Any], Any], items: Any, n: int, modality: str, method: str,
                batch_size: int, d: int | None, progress: Progress | None) -> np.ndarray:
    """One modality's ``n`` rows, checked batch by batch and then as a whole."""
    z = _embed_range(embed, items, range(n), modality, method, batch_size, d, progress, n)
    check_values(z, modality)
    return z


def embed_rows(encoder: Any, paired_set: PairedSet, start: int, stop: int, batch_size: int = 256,
               modalities: Sequence[str] = ("image", "text"), dim: int | None = None) -> dict[str, np.ndarray]:
    """Rows ``[start, stop)`` of ``modalities`` (one shard of a canary embedded elsewhere), in the
    batches ``embed_set`` cuts when ``start`` is a multiple of ``batch_size``, so a shard's values are
    the local pass's; each batch is checked here, the values over a whole modality by the caller
    (``check_values``) once the shards are assembled. ``dim``: the dimension earlier rows had."""
    _checked_batch_size(batch_size)
    out: dict[str, np.ndarray] = {}
    d = dim
    for modality, method, attr in _MODALITIES:
        if modality in modalities:
            out[modality] = _embed_range(getattr(encoder, method), getattr(paired_set, attr), range(start, stop),
                                         modality, method, batch_size, d, None, len(paired_set))
            d = out[modality].shape[1]
    return out


def _checked_batch_size(batch_size: Any) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch_size: expected an integer >= 1, got {batch_size!r}")
    return batch_size


def embed_set(encoder: Any, paired_set: PairedSet, batch_size: int = 256,
              progress: Progress | None = None, known: Mapping[str, np.ndarray] | None = None) -> Embeddings:
    """Embed every pair, ``batch_size`` rows per encoder call, checking each batch's shape as it
    comes and each modality's values (NaN, Inf, all-zero rows) once it is complete.

    ``progress(done_rows, total_rows, modality)`` is called after every batch. ``known`` maps a
    modality (``"image"`` / ``"text"``) to embeddings of exactly these items computed before (a
    perturbation that left that modality unchanged); that modality is not embedded again.
    """
    _checked_batch_size(batch_size)
    missing = missing_encoder_methods(encoder)
    if missing:
        raise SubjectError(f"encoder {type(encoder).__name__} lacks callable {', '.join(missing)}")
    n = len(paired_set)
    d: int | None = None
    outputs: dict[str, np.ndarray] = {}
    for modality, method, attr in _MODALITIES:
        if known is not None and modality in known:
            outputs[modality] = known[modality]
        else:
            outputs[modality] = _embed_rows(getattr(encoder, method), getattr(paired_set, attr), n, modality,
                                            method, batch_size, d, progress)
        d = outputs[modality].shape[1]
    return Embeddings(z_img=outputs["image"], z_txt=outputs["text"])


@dataclass(frozen=True, eq=False)
class TextEmbeddings:
    """Raw embeddings of texts that are not a paired set (class prompts), as a read-only float64
    view, cached beside ``Embeddings``."""

    z_txt: np.ndarray

    def __post_init__(self) -> None:
        arr = self.z_txt
        if not isinstance(arr, np.ndarray) or arr.ndim != 2 or arr.dtype.kind not in "iuf":
            raise InputError(f"TextEmbeddings.z_txt: expected a 2-D real array, got "
                             f"{getattr(arr, 'dtype', type(arr).__name__)} {getattr(arr, 'shape', '')}")
        view = np.asarray(arr, dtype=np.float64).view()
        view.setflags(write=False)
        object.__setattr__(self, "z_txt", view)

    def __len__(self) -> int:
        return int(self.z_txt.shape[0])


def embed_texts(encoder: Any, texts: Sequence[str], batch_size: int = 256,
                progress: Progress | None = None) -> TextEmbeddings:
    """Embed texts on their own through ``encoder.embed_texts``, batched and checked as in
    ``embed_set`` (for class prompts, which have no image partners)."""
    _checked_batch_size(batch_size)
    if not callable(getattr(encoder, "embed_texts", None)):
        raise SubjectError(f"encoder {type(encoder).__name__} lacks callable embed_texts")
    items = list(texts)
    if not items:
        raise InputError("embed_texts: expected at least one text")
    return TextEmbeddings(_embed_rows(encoder.embed_texts, items, len(items), "text", "embed_texts",
                                      batch_size, None, progress))


@dataclass(frozen=True)
class EmbeddingKey:
    """What determines an embedding pass: subject, set content, perturbation and seed."""

    subject: str
    paired_set: str
    perturbation: str = "clean"
    seed: int = 0


def subject_key(subject: Subject) -> str:
    """The subject's name plus a digest of its identity, to key cached embeddings."""
    identity = canonical_json_line(subject.identity())
    return f"{subject.name}:{hashlib.sha256(identity.encode('utf-8')).hexdigest()[:16]}"


def embedding_key(subject: Subject, paired_set: PairedSet, perturbation: str = "clean",
                  seed: int = 0) -> EmbeddingKey:
    """Cache key for ``subject`` embedding ``paired_set`` after ``perturbation`` at ``seed``."""
    return EmbeddingKey(subject_key(subject), paired_set.fingerprint(), perturbation, seed)


def texts_fingerprint(texts: Sequence[str]) -> str:
    """Hex sha256 of a list of texts (order and boundaries included)."""
    digest = hashlib.sha256()
    for text in texts:
        raw = text.encode("utf-8")
        digest.update(len(raw).to_bytes(8, "big") + raw)
    return digest.hexdigest()


def texts_key(subject: Subject, texts: Sequence[str], purpose: str) -> EmbeddingKey:
    """Cache key for ``subject`` embedding loose ``texts`` for ``purpose`` (e.g. "class-prompts")."""
    return EmbeddingKey(subject_key(subject), f"texts:{texts_fingerprint(texts)}", purpose, 0)


class EmbeddingCache:
    """Embeddings computed once per key and shared by every gate that asks; failures are kept too.

    ``computations`` counts calls of the compute functions, so tests can prove reuse.
    """

    def __init__(self) -> None:
        self._done: dict[EmbeddingKey, Embeddings] = {}
        self._failed: dict[EmbeddingKey, Exception] = {}
        self._computations = 0

    @property
    def computations(self) -> int:
        """How many times a compute function has been called."""
        return self._computations

    def __len__(self) -> int:
        return len(self._done)

    def __contains__(self, key: object) -> bool:
        return key in self._done

    def adopt(self, key: EmbeddingKey, result: Embeddings) -> None:
        """Keep embeddings computed elsewhere in this process (the setup check's pass over the clean
        canary) as the result for ``key``, so the gates do not compute them again."""
        if not isinstance(result, Embeddings):
            raise InputError(f"embedding {key}: adopted {type(result).__name__}; expected Embeddings")
        self._done[key] = result

    def get_or_compute(self, key: EmbeddingKey, compute: Callable[[], Cached]) -> Cached:
        """The cached embeddings for ``key``, computing them on the first request only.

        A compute that raised is not retried: later requests raise EncoderOutputError citing it.
        """
        if key in self._done:
            return self._done[key]
        if key in self._failed:
            first = self._failed[key]
            raise EncoderOutputError(f"embedding {key} already failed in this process: "
                                     f"{type(first).__name__}: {first}") from first
        self._computations += 1
        try:
            result = compute()
        except Exception as exc:
            self._failed[key] = exc
            raise
        if not isinstance(result, (Embeddings, TextEmbeddings)):
            raise InputError(f"embedding {key}: compute returned {type(result).__name__}; "
                             f"expected Embeddings or TextEmbeddings")
        self._done[key] = result
        return result
