"""``Subject(class_prompts=...)``: validation against the canary's class labels, and the embedding
of loose texts (the prompts) through the shared cache."""

from __future__ import annotations

import numpy as np
import pytest

from mmgate.errors import InputError
from mmgate.subjects.embedding import (
    EmbeddingCache,
    EncoderOutputError,
    TextEmbeddings,
    embed_texts,
    texts_fingerprint,
    texts_key,
)
from mmgate.subjects.paired import PairedSet
from mmgate.subjects.subject import Subject, SubjectError

PROMPTS = {0: ["a zero", "the digit 0"], 1: ["a one"], 2: ["a two", "the digit 2"]}


class Encoder:
    def __init__(self) -> None:
        self.text_calls: list[int] = []

    def embed_images(self, batch):
        return np.ones((len(batch), 3))

    def embed_texts(self, batch):
        self.text_calls.append(len(batch))
        return np.array([[1.0, float(len(t)), 0.5] for t in batch])


def canary(groups=(0, 1, 2, 1)) -> PairedSet:
    n = 4 if groups is None else len(groups)
    return PairedSet(np.zeros((n, 2)), [f"t {i}" for i in range(n)], groups=None if groups is None else list(groups))


def subject(prompts=PROMPTS, groups=(0, 1, 2, 1)) -> Subject:
    return Subject(name="s", encoder=Encoder(), canary=canary(groups), class_prompts=prompts)


def test_class_prompts_are_stored_read_only_sorted_and_as_tuples():
    built = subject({np.int64(2): ["a two"], 0: ("a zero",), 1: ["a one", "one"], 7: ["a seven"]})
    assert list(built.class_prompts) == [0, 1, 2, 7]
    assert built.class_prompts[1] == ("a one", "one")
    assert all(type(label) is int for label in built.class_prompts)
    with pytest.raises(TypeError):
        built.class_prompts[3] = ("x",)


def test_no_class_prompts_is_the_default():
    assert Subject(name="s", encoder=Encoder(), canary=canary(None)).class_prompts is None


def test_prompts_must_cover_every_class_of_the_canary_and_the_error_names_the_missing():
    with pytest.raises(SubjectError, match=r"class label\(s\) \[1, 2\]"):
        subject({0: ["a zero"], 5: ["a five"]})


def test_prompts_need_a_class_labelled_canary():
    with pytest.raises(SubjectError, match="declares no groups"):
        subject(groups=None)


@pytest.mark.parametrize("bad, match", [
    (["a zero", "a one"], "expected a mapping"),
    ({"0": ["a zero"], 1: ["a one"], 2: ["a two"]}, "must be ints"),
    ({True: ["a one"], 0: ["a zero"], 2: ["a two"]}, "must be ints"),
    ({0: [], 1: ["a one"], 2: ["a two"]}, r"class_prompts\[0\]: expected a non-empty list"),
    ({0: "a zero", 1: ["a one"], 2: ["a two"]}, r"class_prompts\[0\]"),
    ({0: ["a zero", " "], 1: ["a one"], 2: ["a two"]}, r"class_prompts\[0\]"),
    ({0: ["a zero", 3], 1: ["a one"], 2: ["a two"]}, r"class_prompts\[0\]"),
    ({0: ["a zero"]}, "at least 2 classes"),
])
def test_malformed_prompts_are_rejected_with_the_field_named(bad, match):
    with pytest.raises(SubjectError, match=match):
        subject(bad, groups=(0, 0))


def test_embed_texts_batches_and_checks_the_rows():
    encoder = Encoder()
    out = embed_texts(encoder, ["a", "bb", "ccc"], batch_size=2)
    assert isinstance(out, TextEmbeddings) and len(out) == 3 and encoder.text_calls == [2, 1]
    assert out.z_txt.dtype == np.float64 and not out.z_txt.flags.writeable
    assert out.z_txt[:, 1].tolist() == [1.0, 2.0, 3.0]
    with pytest.raises(InputError, match="at least one text"):
        embed_texts(encoder, [])


def test_embed_texts_reports_bad_rows_like_embed_set():
    class Zero(Encoder):
        def embed_texts(self, batch):
            return np.zeros((len(batch), 3))

    with pytest.raises(EncoderOutputError, match="all-zero rows"):
        embed_texts(Zero(), ["a", "b"])


def test_prompt_embeddings_are_cached_once_per_subject_and_texts():
    built, cache = subject(), EmbeddingCache()
    texts = [t for label in built.class_prompts for t in built.class_prompts[label]]
    key = texts_key(built, texts, "class-prompts")
    first = cache.get_or_compute(key, lambda: embed_texts(built.encoder, texts))
    again = cache.get_or_compute(texts_key(built, list(texts), "class-prompts"),
                                 lambda: pytest.fail("recomputed"))
    assert again is first and cache.computations == 1
    assert texts_key(built, texts[::-1], "class-prompts") != key
    # boundaries count: two texts are not their concatenation
    assert texts_fingerprint(["ab", "c"]) != texts_fingerprint(["a", "bc"])
