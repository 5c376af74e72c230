"""Specification of batched embedding: batch sizes, per-batch validation, and the shared cache."""

from __future__ import annotations

import numpy as np
import pytest

from mmgate.errors import ConfigError, InputError, MmgateError
from mmgate.subjects.embedding import (
    EmbeddingCache,
    EmbeddingKey,
    Embeddings,
    EncoderOutputError,
    embed_set,
    embedding_key,
)
from mmgate.subjects.paired import PairedSet
from mmgate.subjects.subject import Subject, SubjectError

D = 4


class CountingEncoder:
    """Embeds row r (image value r, caption "t r") as a distinct vector and records batch sizes."""

    def __init__(self) -> None:
        self.image_batches: list[int] = []
        self.text_batches: list[int] = []

    def embed_images(self, batch):
        self.image_batches.append(len(batch))
        rows = np.asarray(batch, dtype=np.float32).reshape(len(batch), -1)[:, :1]
        return np.hstack([rows + 1.0, np.ones((len(batch), D - 1), dtype=np.float32)])

    def embed_texts(self, batch):
        self.text_batches.append(len(batch))
        rows = np.array([[float(t.split()[1])] for t in batch])
        return np.hstack([np.ones((len(batch), D - 1)), rows + 1.0])


def pairs(n: int) -> PairedSet:
    return PairedSet(np.arange(n, dtype=np.float32).reshape(n, 1, 1), [f"t {i}" for i in range(n)])


class ScriptedEncoder:
    """Returns ``image_out(start_row, batch)`` / ``text_out(...)`` so each test shapes one fault."""

    def __init__(self, image_out=None, text_out=None) -> None:
        self.image_out = image_out
        self.text_out = text_out
        self.seen = {"image": 0, "text": 0}

    def _run(self, modality, fn, batch):
        start = self.seen[modality]
        self.seen[modality] += len(batch)
        if fn is None:
            return np.ones((len(batch), D)) + np.arange(len(batch))[:, None]
        return fn(start, len(batch))

    def embed_images(self, batch):
        return self._run("image", self.image_out, batch)

    def embed_texts(self, batch):
        return self._run("text", self.text_out, batch)


@pytest.mark.parametrize("n, batch_size, expected", [
    (10, 4, [4, 4, 2]), (8, 4, [4, 4]), (5, 256, [5]), (3, 1, [1, 1, 1]),
])
def test_the_encoder_is_called_in_batches_of_at_most_batch_size(n, batch_size, expected) -> None:
    enc = CountingEncoder()
    embed_set(enc, pairs(n), batch_size=batch_size)
    assert enc.image_batches == expected and enc.text_batches == expected


def test_batches_are_reassembled_in_row_order_as_float64() -> None:
    e = embed_set(CountingEncoder(), pairs(7), batch_size=3)
    assert e.z_img.dtype == np.float64 and e.d == D and len(e) == 7
    np.testing.assert_array_equal(e.z_img[:, 0], np.arange(7) + 1.0)
    np.testing.assert_array_equal(e.z_txt[:, -1], np.arange(7) + 1.0)


def test_lists_are_sliced_into_lists_for_the_encoder() -> None:
    seen = []

    class ListEncoder(CountingEncoder):
        def embed_texts(self, batch):
            seen.append(batch)
            return super().embed_texts(batch)

    embed_set(ListEncoder(), pairs(5), batch_size=2)
    assert seen == [["t 0", "t 1"], ["t 2", "t 3"], ["t 4"]]


def test_progress_reports_rows_done_per_modality() -> None:
    calls = []
    embed_set(CountingEncoder(), pairs(5), batch_size=2, progress=lambda *a: calls.append(a))
    assert calls == [(2, 5, "image"), (4, 5, "image"), (5, 5, "image"),
                     (2, 5, "text"), (4, 5, "text"), (5, 5, "text")]


def test_embeddings_are_read_only() -> None:
    e = embed_set(CountingEncoder(), pairs(3))
    with pytest.raises(ValueError):
        e.z_img[0, 0] = 5.0


def test_embeddings_built_directly_leave_the_callers_array_writable() -> None:
    z = np.ones((3, 2))
    e = Embeddings(z, np.ones((3, 2)))
    z[0, 0] = 2.0
    assert not e.z_img.flags.writeable


@pytest.mark.parametrize("batch_size", [0, -1, True, 2.0])
def test_batch_size_must_be_a_positive_int(batch_size) -> None:
    with pytest.raises(ConfigError, match="batch_size"):
        embed_set(CountingEncoder(), pairs(3), batch_size=batch_size)


def test_an_encoder_without_both_methods_is_rejected() -> None:
    with pytest.raises(SubjectError, match="embed_texts"):
        embed_set(type("Half", (), {"embed_images": lambda self, b: None})(), pairs(3))


def good_rows(start, n):
    return np.ones((n, D))


@pytest.mark.parametrize("image_out, text_out, pattern", [
    (lambda s, n: [["a"] * D] * n, None, r"image embeddings for rows 0:4: .*real numeric.*<U1"),
    (lambda s, n: np.ones((n, D), dtype=complex), None, "image .*real numeric.*complex"),
    (lambda s, n: [[1.0] * D, [1.0]] + [[1.0] * D] * (n - 2), None,
     "image embeddings for rows 0:4: not convertible"),
    (lambda s, n: np.ones(n), None, r"image embeddings for rows 0:4: 1-D output"),
    (lambda s, n: np.ones((n, D, 1)), None, "3-D output"),
    (lambda s, n: np.ones((n - 1 if s else n, D)), None,
     "image embeddings for rows 4:8: wrong row count: expected 4, got 3"),
    (lambda s, n: np.ones((n, D + 1 if s else D)), None,
     "image embeddings for rows 4:8: embedding dimension .*expected 4, got 5"),
    (None, lambda s, n: np.ones((n, D + 2)), "text embeddings for rows 0:4: .*expected 4, got 6"),
    (lambda s, n: np.ones((n, 0)), None, "dimension is 0"),
    (None, lambda s, n: np.where(np.eye(n, D) > 0, np.nan, 1.0) if s else np.ones((n, D)),
     r"text embeddings \(8 rows\): 4 rows with NaN, 0 rows with Inf, 0 all-zero rows \(first bad "
     r"row 4\)"),
    (lambda s, n: np.full((n, D), np.inf), None, r"image embeddings \(8 rows\): 0 rows with NaN, 8 rows "
     r"with Inf"),
    (None,
     lambda s, n: np.vstack([np.ones((n - 2, D)), np.zeros((2, D))]) if s else good_rows(s, n),
     r"text embeddings \(8 rows\): 0 rows with NaN, 0 rows with Inf, 2 all-zero rows \(first bad "
     r"row 6\)"),
])
def test_each_bad_output_kind_is_reported_with_modality_rows_and_problem(
        image_out, text_out, pattern) -> None:
    with pytest.raises(EncoderOutputError, match=pattern):
        embed_set(ScriptedEncoder(image_out, text_out), pairs(8), batch_size=4)


def test_an_encoder_that_raises_is_wrapped_with_modality_rows_and_the_original_error() -> None:
    def explode(start, n):
        if start:
            raise MemoryError("out of GPU memory")
        return np.ones((n, D))

    with pytest.raises(EncoderOutputError,
                       match=r"text encoder \(embed_texts\) raised on rows 4:8: MemoryError: "
                             r"out of GPU memory") as info:
        embed_set(ScriptedEncoder(None, explode), pairs(8), batch_size=4)
    assert isinstance(info.value.__cause__, MemoryError)


def test_encoder_output_errors_are_mmgate_input_errors() -> None:
    assert issubclass(EncoderOutputError, InputError)
    assert issubclass(EncoderOutputError, MmgateError)


# cache ---------------------------------------------------------------------------------------

def key(seed: int = 0, perturbation: str = "clean") -> EmbeddingKey:
    return EmbeddingKey("subject", "set", perturbation, seed)


def test_the_cache_computes_once_per_key_and_shares_the_result() -> None:
    cache = EmbeddingCache()
    enc = CountingEncoder()

    def compute():
        return embed_set(enc, pairs(4))

    first = cache.get_or_compute(key(), compute)
    second = cache.get_or_compute(key(), compute)
    assert first is second
    assert cache.computations == 1 and enc.image_batches == [4] and len(cache) == 1


def test_each_distinct_key_is_computed_separately() -> None:
    cache = EmbeddingCache()

    def compute():
        return embed_set(CountingEncoder(), pairs(4))

    for k in (key(0), key(1), key(0, "noise=0.1"), key(1)):
        cache.get_or_compute(k, compute)
    assert cache.computations == 3 and key(0, "noise=0.1") in cache


def test_a_failed_computation_is_not_retried_and_later_requests_cite_it() -> None:
    cache = EmbeddingCache()
    calls = []

    def failing():
        calls.append(1)
        raise EncoderOutputError("image embeddings for rows 0:4: 1-D output")

    with pytest.raises(EncoderOutputError, match="1-D output"):
        cache.get_or_compute(key(), failing)
    with pytest.raises(EncoderOutputError, match="already failed.*1-D output") as info:
        cache.get_or_compute(key(), failing)
    assert len(calls) == 1 and cache.computations == 1
    assert isinstance(info.value.__cause__, EncoderOutputError)
    assert key() not in cache


def test_the_cache_rejects_a_compute_that_returns_something_else() -> None:
    with pytest.raises(InputError, match="returned ndarray"):
        EmbeddingCache().get_or_compute(key(), lambda: np.ones((2, 2)))


def test_embedding_key_uses_subject_identity_and_set_content() -> None:
    canary = pairs(4)
    subject = Subject("m", CountingEncoder(), canary)
    k = embedding_key(subject, canary, "clean", 2)
    assert k == embedding_key(subject, pairs(4), "clean", 2)
    assert k != embedding_key(subject, pairs(5), "clean", 2)
    assert k.subject.startswith("m:") and k.seed == 2


def test_a_modality_given_as_known_is_not_embedded_again() -> None:
    encoder = CountingEncoder()
    first = embed_set(encoder, pairs(10), batch_size=4)
    again = embed_set(encoder, pairs(10), batch_size=4, known={"text": first.z_txt})
    assert encoder.text_batches == [4, 4, 2]  # the first pass only
    assert encoder.image_batches == [4, 4, 2, 4, 4, 2]
    np.testing.assert_array_equal(again.z_txt, first.z_txt)


def test_items_fingerprints_follow_each_modality_alone() -> None:
    base = pairs(6)
    noisy = PairedSet(np.asarray(base.images) + 0.5, list(base.texts))
    assert noisy.items_fingerprint("texts") == base.items_fingerprint("texts")
    assert noisy.items_fingerprint("images") != base.items_fingerprint("images")
