"""The run context embeds each thing once: a perturbation of one modality reuses the clean
embeddings of the other, and the determinism gate's second pass reuses nothing and is not kept."""

from __future__ import annotations

import numpy as np
import pytest

from mmgate.gating.contract import Contract
from mmgate.perturb import GaussianNoise
from mmgate.plugin.context import RunContext
from mmgate.plugin.runspec import RunSpec
from mmgate.plugin.settings import resolve_settings
from mmgate.subjects.embedding import EncoderOutputError
from mmgate.subjects.paired import PairedSet
from mmgate.subjects.subject import Subject


class RowCounter:
    """Images are 2 x 2 arrays flattened; a text "t i" embeds as image i's row pattern."""

    def __init__(self) -> None:
        self.rows = {"image": 0, "text": 0}

    def embed_images(self, batch):
        self.rows["image"] += len(batch)
        return np.asarray(batch, dtype=np.float64).reshape(len(batch), -1) + 1.0

    def embed_texts(self, batch):
        self.rows["text"] += len(batch)
        return np.stack([np.full(4, float(t.split()[1])) + 1.0 for t in batch])


def _context(tmp_path, encoder):
    n = 40
    images = np.random.default_rng(0).random((n, 2, 2))
    subject = Subject(name="toy", encoder=encoder, canary=PairedSet(images, [f"t {i}" for i in range(n)]))
    spec = RunSpec(settings=resolve_settings({}, {}, tmp_path), contract=Contract(), problems=(),
                   config_texts=())
    context = RunContext(spec)
    context.adopt_subject(subject)
    return context, subject


def test_image_noise_embeds_only_the_images_again(tmp_path):
    encoder = RowCounter()
    context, subject = _context(tmp_path, encoder)
    clean = context.embed(subject, subject.canary)
    noisy = context.embed(subject, GaussianNoise(0.1, seed=1).apply(subject.canary), "noise", 0)
    assert encoder.rows == {"image": 80, "text": 40}
    np.testing.assert_array_equal(noisy.z_txt, clean.z_txt)
    assert not np.array_equal(noisy.z_img, clean.z_img)


def test_the_second_pass_embeds_both_modalities_again_once_and_keeps_only_the_comparison(tmp_path):
    encoder = RowCounter()
    context, subject = _context(tmp_path, encoder)
    context.embed(subject, subject.canary)
    image = context.second_pass(subject, 0, "image")
    text = context.second_pass(subject, 0, "text")
    assert encoder.rows == {"image": 80, "text": 80}
    assert image["differing_entries"] == text["differing_entries"] == 0
    assert context.embeddings_cache.computations == 1


class FailsOnSecondPass(RowCounter):
    """Embeds the canary once, then raises: a tower whose second pass breaks."""

    def embed_images(self, batch):
        if self.rows["image"] >= 40:
            raise RuntimeError("weights unloaded")
        return super().embed_images(batch)


def test_a_second_pass_that_fails_raises_for_both_modalities_without_embedding_again(tmp_path):
    encoder = FailsOnSecondPass()
    context, subject = _context(tmp_path, encoder)
    context.embed(subject, subject.canary)
    for modality in ("image", "text"):
        with pytest.raises(EncoderOutputError, match="weights unloaded"):
            context.second_pass(subject, 0, modality)
    assert encoder.rows == {"image": 40, "text": 40}
