"""The example's subject factories: all-MiniLM-L6-v2 on both sides of the caption <-> paraphrase
canary (captions on the "image" side, paraphrases on the text side), with its disjoint training
pairs, and three broken variants a release gate must reject."""

from __future__ import annotations

from typing import Any

import numpy as np

from examples.minilm_paraphrase import canary as pairs
from examples.minilm_paraphrase import model
from mmgate import PairedSet, Subject

FACTORS = ("object", "colour", "place", "action")


def paired_set(texts: pairs.TextPairs, name: str, shift: int = 0) -> PairedSet:
    """Captions as the image side, paraphrases as the text side, the four word indices as factors;
    ``shift`` joins caption ``i`` with paraphrase ``i + shift`` (mod n) instead of its own."""
    items = np.asarray(texts.items, dtype=np.int64)
    paraphrases = np.roll(np.asarray(texts.paraphrases, dtype=object), -shift).tolist()
    factors = {factor: items[:, k] for k, factor in enumerate(FACTORS)}
    return PairedSet(list(texts.captions), paraphrases, factors=factors, name=name)


def _subject(name: str, encoder: Any, shift: int = 0) -> Subject:
    canary, training = pairs.splits()
    suffix = "-off-by-one" if shift else ""
    return Subject(name=name, encoder=encoder,
                   canary=paired_set(canary, f"minilm-paraphrase-canary{suffix}", shift),
                   training=paired_set(training, "minilm-paraphrase-training"))


def make_subject() -> Subject:
    """all-MiniLM-L6-v2 (pretrained, raw embeddings) on 256 caption <-> paraphrase pairs."""
    from mmgate.adapters import SentenceTransformersEncoder

    return _subject("minilm-paraphrase", SentenceTransformersEncoder(model.minilm()))


def make_rank_collapsed_subject(rank: int = model.COLLAPSE_RANK) -> Subject:
    """The pretrained model with its text tower collapsed onto the ``rank`` leading directions of
    its own embeddings of the training paraphrases: must be rejected."""
    from mmgate.adapters import SentenceTransformersEncoder

    inner = SentenceTransformersEncoder(model.minilm())
    training = pairs.splits()[1]
    basis = model.top_directions(inner.embed_texts(training.paraphrases), rank)
    encoder = model.RankCollapsedTexts(inner, basis, name=f"all-MiniLM-L6-v2 text tower at rank {rank}")
    return _subject(f"minilm-paraphrase-rank{rank}", encoder)


def make_mispaired_subject() -> Subject:
    """The pretrained model on a canary joined off by one (caption i with paraphrase i + 1): must
    be rejected."""
    from mmgate.adapters import SentenceTransformersEncoder

    return _subject("minilm-paraphrase-mispaired", SentenceTransformersEncoder(model.minilm()), shift=1)


def make_random_init_subject() -> Subject:
    """The same architecture at a seeded random initialisation, on both sides: must be rejected."""
    from mmgate.adapters import SentenceTransformersEncoder

    return _subject("minilm-paraphrase-random-init",
                    SentenceTransformersEncoder(model.random_init_minilm()))
