"""The seeded subsample the perturbation gates use above ``SAMPLE_CAP`` pairs."""

from __future__ import annotations

import numpy as np

from mmgate.panel import retrieval_ranks
from mmgate.perturb.sample import SAMPLE_CAP, canary_sample, sample_rows
from mmgate.subjects.embedding import Embeddings
from mmgate.subjects.paired import PairedSet


def _canary(n: int, groups: np.ndarray | None = None) -> PairedSet:
    rows = np.arange(n)
    return PairedSet(rows, rows.copy(), groups=groups, name="rows")


def test_within_the_cap_the_sample_is_the_canary_and_adds_no_evidence() -> None:
    canary = _canary(50)
    sample = canary_sample(canary, seed=3, cap=50)
    assert sample.canary is canary and not sample.sampled and sample.evidence() == {}
    assert sample_rows(_canary(SAMPLE_CAP), 0) is None


def test_rows_are_seeded_sorted_distinct_and_recorded() -> None:
    canary = _canary(1000)
    first, again, other = (sample_rows(canary, s, cap=100) for s in (1, 1, 2))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert first.size == 100 and np.all(np.diff(first) > 0)
    sample = canary_sample(canary, 1, cap=100)
    assert sample.evidence()["sample_pairs"] == 100 and sample.evidence()["canary_pairs"] == 1000
    np.testing.assert_array_equal(np.asarray(sample.canary.images), first)


def test_small_groups_are_kept_whole_and_large_classes_keep_their_labels() -> None:
    small = np.repeat(np.arange(400), 5)            # five captions per image
    rows = sample_rows(_canary(2000, small), 0, cap=640)
    kept, counts = np.unique(small[rows], return_counts=True)
    assert np.all(counts == 5) and rows.size <= 640 and kept.size == rows.size // 5
    large = np.arange(2000) % 4                     # four classes of 500
    rows = sample_rows(_canary(2000, large), 0, cap=640)
    assert rows.size == 640 and np.unique(large[rows]).size == 4


def test_clean_baseline_is_the_subsample_rows_without_re_embedding() -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(size=(300, 8))
    clean = Embeddings(z, z + 0.5 * rng.normal(size=z.shape))
    canary = _canary(300)
    sample = canary_sample(canary, 4, cap=64)
    calls = []

    def embed(paired_set, key):
        calls.append(key)
        return clean

    sampled = sample.embedder(embed, canary)
    rows = sampled(sample.canary, "clean")
    np.testing.assert_array_equal(rows.z_img, clean.z_img[sample.rows])
    assert calls == ["clean"]
    ranks = sample.clean_ranks(clean)
    expected = retrieval_ranks(clean.z_img[sample.rows], clean.z_txt[sample.rows])
    np.testing.assert_array_equal(ranks.i2t, expected.i2t)
    np.testing.assert_array_equal(ranks.t2i, expected.t2i)
    assert ranks.n == 64
