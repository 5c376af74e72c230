"""Grouped ground truth (several relevant candidates per query) and exact-duplicate detection:
checked against a full-matrix brute force, hand-made ties, a five-captions-per-image toy and
properties (distinct labels, block size, thread count, permutation, modality swap)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mmgate.errors import InputError
from mmgate.panel import duplicate_groups, duplicate_rows, rank_sweep, retrieval_cis
from mmgate.panel.retrieval import RetrievalRanks, retrieval_metrics, retrieval_ranks

FIELDS = ("i2t", "t2i", "i2t_top1", "t2i_top1", "i2t_ties", "t2i_ties")


def _pairs(seed: int, n: int, d: int, noise: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    zi = rng.standard_normal((n, d))
    return zi, zi + noise * rng.standard_normal((n, d))


def _unit(z: np.ndarray) -> np.ndarray:
    return z / np.linalg.norm(z, axis=1, keepdims=True)


def _brute_force(zi: np.ndarray, zt: np.ndarray, groups: np.ndarray) -> dict[str, np.ndarray]:
    """Slow reference: the full score matrix; per query the best relevant score, then irrelevant
    scores above it by more than tol (rank) and within tol of it (ties)."""
    scores = _unit(zi) @ _unit(zt).T
    tol = np.sqrt(zi.shape[1]) * np.finfo(np.float64).eps
    relevant = groups[:, None] == groups[None, :]
    out = {}
    for name, s in (("i2t", scores), ("t2i", scores.T)):
        best = np.where(relevant, s, -np.inf).max(axis=1, keepdims=True)
        irrelevant = np.where(relevant, np.nan, s)
        out[name] = np.sum(irrelevant > best + tol, axis=1)
        out[f"{name}_ties"] = np.sum(np.abs(irrelevant - best) <= tol, axis=1)
        out[f"{name}_best"] = best[:, 0]
        out[f"{name}_scores"] = s
    return out


def _same_ranks(a: RetrievalRanks, b: RetrievalRanks) -> None:
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def _check_against_brute_force(zi: np.ndarray, zt: np.ndarray, groups: np.ndarray, block: int | None) -> None:
    ranks = retrieval_ranks(zi, zt, block_size=block, groups=groups)
    ref = _brute_force(zi, zt, groups)
    tol = np.sqrt(zi.shape[1]) * np.finfo(np.float64).eps
    for name in ("i2t", "t2i", "i2t_ties", "t2i_ties"):
        np.testing.assert_array_equal(getattr(ranks, name), ref[name], err_msg=name)
    for direction in ("i2t", "t2i"):
        top1, rank = getattr(ranks, f"{direction}_top1"), getattr(ranks, direction)
        scores = ref[f"{direction}_scores"]
        for q in range(groups.shape[0]):
            assert (groups[top1[q]] == groups[q]) == (rank[q] == 0)
            target = ref[f"{direction}_best"][q] if rank[q] == 0 else scores[q].max()
            assert abs(scores[q, top1[q]] - target) <= tol


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 60), d=st.integers(1, 8),
       n_labels=st.integers(1, 60), noise=st.sampled_from([0.1, 1.0, 5.0]), block=st.sampled_from([1, 3, 16, None]))
def test_grouped_ranks_ties_and_top1_match_the_brute_force_on_random_data(seed, n, d, n_labels, noise, block):
    zi, zt = _pairs(seed, n, d, noise)
    groups = np.random.default_rng(seed + 1).integers(0, n_labels, n)
    _check_against_brute_force(zi, zt, groups, block)


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.int8, st.tuples(st.just(2), st.integers(2, 12), st.integers(1, 4)), elements=st.integers(-2, 2)),
       st.lists(st.integers(0, 3), min_size=12, max_size=12), st.sampled_from([1, 2, 5, None]))
def test_grouped_ranks_follow_the_definitions_on_tie_heavy_integer_data(drawn, labels, block):
    zi, zt = (side.astype(np.float64) for side in drawn)
    for side in (zi, zt):
        side[~side.any(axis=1)] = 1.0
    _check_against_brute_force(zi, zt, np.array(labels[:zi.shape[0]]), block)


def test_retrieval_metrics_with_groups_follow_the_brute_force_ranks():
    zi, zt = _pairs(3, 240, 10, 1.2)
    groups = np.random.default_rng(3).integers(0, 60, 240)
    ref = _brute_force(zi, zt, groups)
    metrics = retrieval_metrics(zi, zt, ks=(1, 5), groups=groups)
    for k in (1, 5):
        assert metrics[f"i2t_recall@{k}"] == pytest.approx(np.mean(ref["i2t"] < k))
        assert metrics[f"t2i_recall@{k}"] == pytest.approx(np.mean(ref["t2i"] < k))
        assert metrics[f"symmetry_gap@{k}"] == pytest.approx(np.mean(ref["i2t"] < k) - np.mean(ref["t2i"] < k))
    assert metrics["i2t_mrr"] == pytest.approx(np.mean(1.0 / (ref["i2t"] + 1)))
    assert metrics["t2i_mrr"] == pytest.approx(np.mean(1.0 / (ref["t2i"] + 1)))
    assert set(metrics) == set(retrieval_metrics(zi, zt, ks=(1, 5)))


def test_no_groups_keeps_the_row_paired_results_and_records_no_labels():
    zi, zt = _pairs(5, 90, 6, 0.8)
    zt[10] = zt[20]
    plain = retrieval_ranks(zi, zt, block_size=13)
    _same_ranks(retrieval_ranks(zi, zt, block_size=13, groups=None), plain)
    assert plain.groups is None
    assert retrieval_metrics(zi, zt, groups=None) == retrieval_metrics(zi, zt)


@settings(max_examples=40, deadline=None)
@given(hnp.arrays(np.int8, st.tuples(st.just(2), st.integers(2, 12), st.integers(1, 4)), elements=st.integers(-2, 2)),
       st.randoms(use_true_random=False), st.sampled_from([1, 2, 5, None]))
def test_all_distinct_labels_give_exactly_the_results_of_no_labels(drawn, rnd, block):
    zi, zt = (side.astype(np.float64) for side in drawn)
    for side in (zi, zt):
        side[~side.any(axis=1)] = 1.0
    labels = np.array(rnd.sample(range(-1000, 1000), zi.shape[0]))
    _same_ranks(retrieval_ranks(zi, zt, block_size=block, groups=labels), retrieval_ranks(zi, zt, block_size=block))
    assert retrieval_metrics(zi, zt, ks=1, groups=labels) == retrieval_metrics(zi, zt, ks=1)


def _five_captions_per_image(seed: int, images: int = 40, d: int = 16) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """COCO-like canary: each image row repeated for its five captions (caption = image + noise);
    the first two captions of every fourth image are exact duplicates ("A photo of a dog.")."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((images, d))
    groups = np.repeat(np.arange(images), 5)
    z_img = centres[groups]
    z_txt = z_img + 0.35 * rng.standard_normal(z_img.shape)
    duplicated = np.arange(0, images, 4) * 5
    z_txt[duplicated + 1] = z_txt[duplicated]
    return z_img, z_txt, groups


def test_five_captions_per_image_score_perfectly_with_groups_and_not_without():
    z_img, z_txt, groups = _five_captions_per_image(0)
    plain = retrieval_metrics(z_img, z_txt, ks=(1, 5))
    grouped = retrieval_metrics(z_img, z_txt, ks=(1, 5), groups=groups)
    assert plain["i2t_recall@1"] < 0.5
    assert grouped["i2t_recall@1"] == grouped["t2i_recall@1"] == 1.0
    assert grouped["i2t_mrr"] == grouped["t2i_mrr"] == 1.0
    plain_ranks = retrieval_ranks(z_img, z_txt)
    grouped_ranks = retrieval_ranks(z_img, z_txt, groups=groups)
    assert (plain_ranks.t2i_ties == 4).all() and not grouped_ranks.t2i_ties.any()
    assert (groups[grouped_ranks.i2t_top1] == groups).all() and (groups[grouped_ranks.t2i_top1] == groups).all()


def test_duplicate_detection_counts_the_repeated_captions_and_images():
    z_img, z_txt, groups = _five_captions_per_image(1)
    assert duplicate_rows(z_txt) == 10
    assert duplicate_rows(z_img) == 4 * 40
    np.testing.assert_array_equal(duplicate_groups(z_img), groups * 5)
    labels = duplicate_groups(z_txt)
    assert labels[5 * 4 + 1] == 5 * 4 and labels[5 * 4 + 2] == 5 * 4 + 2


def _hand_scores() -> tuple[np.ndarray, np.ndarray]:
    """Unit rows in the plane at 0, 30, 60, 90 degrees; texts 1 and 2 are copies of text 0, so every
    image scores texts 0, 1 and 2 equally (image 2: cos 60 deg) and image 2 scores text 3 higher."""
    angle = np.deg2rad([0.0, 30.0, 60.0, 90.0])
    zi = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    zt = zi.copy()
    zt[1] = zt[2] = zt[0]
    return zi, zt


def test_ties_among_relevant_candidates_never_count_against_the_query():
    zi, zt = _hand_scores()
    ranks = retrieval_ranks(zi, zt, groups=[0, 0, 1, 2])
    assert ranks.i2t[0] == 0 and ranks.i2t_top1[0] == 0
    assert ranks.i2t_ties[0] == 1
    same_group = retrieval_ranks(zi, zt, groups=[0, 0, 0, 2])
    assert same_group.i2t[0] == 0 and same_group.i2t_ties[0] == 0


def test_ties_with_irrelevant_candidates_are_counted_as_ties_and_a_higher_one_as_a_miss():
    zi, zt = _hand_scores()
    ranks = retrieval_ranks(zi, zt, groups=[0, 1, 1, 2])
    assert ranks.i2t[0] == 0 and ranks.i2t_ties[0] == 2
    assert ranks.i2t[2] == 1 and ranks.i2t_ties[2] == 1 and ranks.i2t_top1[2] == 3
    assert retrieval_ranks(zi, zt).i2t_ties[0] == 2


def test_top1_is_the_best_relevant_candidate_the_true_pair_among_equals_else_the_lowest_index():
    zi, zt = _hand_scores()
    zi[3] = zi[1]
    ranks = retrieval_ranks(zi, zt, groups=[0, 0, 0, 0])
    assert not ranks.i2t.any() and not ranks.i2t_ties.any()
    np.testing.assert_array_equal(ranks.i2t_top1, [0, 1, 3, 0])
    np.testing.assert_array_equal(ranks.t2i_top1, [0, 0, 0, 2])


def test_one_group_holding_every_row_makes_every_query_a_hit():
    zi, zt = _pairs(2, 30, 4)
    ranks = retrieval_ranks(zi, zt, groups=np.zeros(30, dtype=int), block_size=7)
    assert not ranks.i2t.any() and not ranks.t2i.any() and not ranks.i2t_ties.any()


@pytest.mark.parametrize("noise", [1.0, 0.05])
def test_block_size_does_not_change_grouped_results(noise):
    zi, zt = _pairs(11, 57, 6, noise)
    groups = np.random.default_rng(11).integers(0, 15, 57)
    reference = retrieval_ranks(zi, zt, block_size=57, groups=groups)
    for block in (1, 3, 8, None, 1000):
        _same_ranks(retrieval_ranks(zi, zt, block_size=block, groups=groups), reference)


def test_thread_count_strict_pass_and_mate_chunks_do_not_change_grouped_results(monkeypatch):
    zi, zt = _pairs(4, 700, 5, 1.5)
    groups = np.random.default_rng(4).integers(0, 50, 700)
    groups[:200] = 7
    single = retrieval_ranks(zi, zt, block_size=600, groups=groups)
    monkeypatch.setattr(rank_sweep, "_THREAD_MIN", 0)
    monkeypatch.setattr(rank_sweep.os, "cpu_count", lambda: 4)
    _same_ranks(retrieval_ranks(zi, zt, block_size=600, groups=groups), single)
    monkeypatch.setattr(rank_sweep, "SPARSE_COLUMNS", 1)
    monkeypatch.setattr(rank_sweep, "SPARSE_ROWS", 1)
    _same_ranks(retrieval_ranks(zi, zt, block_size=100, groups=groups), single)
    monkeypatch.setattr(rank_sweep, "SPARSE_COLUMNS", 10**9)
    monkeypatch.setattr(rank_sweep, "SPARSE_ROWS", 10**9)
    _same_ranks(retrieval_ranks(zi, zt, block_size=100, groups=groups), single)
    monkeypatch.setattr(rank_sweep, "_MATE_SCORES", 500)
    _same_ranks(retrieval_ranks(zi, zt, block_size=100, groups=groups), single)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 40), d=st.integers(1, 6))
def test_jointly_permuting_rows_and_labels_permutes_the_grouped_ranks(seed, n, d):
    zi, zt = _pairs(seed, n, d)
    rng = np.random.default_rng(seed)
    groups, perm = rng.integers(0, max(1, n // 3), n), rng.permutation(n)
    base = retrieval_ranks(zi, zt, groups=groups)
    moved = retrieval_ranks(zi[perm], zt[perm], groups=groups[perm])
    for name in ("i2t", "t2i", "i2t_ties", "t2i_ties"):
        np.testing.assert_array_equal(getattr(moved, name), getattr(base, name)[perm])


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 40), d=st.integers(1, 6))
def test_swapping_the_modalities_swaps_the_grouped_directions(seed, n, d):
    zi, zt = _pairs(seed, n, d)
    groups = np.random.default_rng(seed).integers(0, max(1, n // 2), n)
    a, b = retrieval_ranks(zi, zt, groups=groups), retrieval_ranks(zt, zi, groups=groups)
    for x, y in (("i2t", "t2i"), ("i2t_top1", "t2i_top1"), ("i2t_ties", "t2i_ties")):
        np.testing.assert_array_equal(getattr(a, x), getattr(b, y))


def test_grouped_ranks_keep_the_labels_read_only_and_feed_the_bootstrap():
    zi, zt = _pairs(6, 120, 6, 1.0)
    labels = np.repeat(np.arange(40), 3)
    ranks = retrieval_ranks(zi, zt, groups=labels.astype(np.float32))
    np.testing.assert_array_equal(ranks.groups, labels)
    assert ranks.groups.dtype == np.int64
    with pytest.raises(ValueError):
        ranks.groups[0] = 3
    lo, hi = retrieval_cis(ranks, ks=(1,), n_boot=200)["i2t_recall@1"]
    assert lo <= np.mean(ranks.i2t < 1) <= hi


@pytest.mark.parametrize(("groups", "words"), [
    (np.arange(9), r"groups must be 1-D with one integer label per row \(N=10\); got shape \(9,\)"),
    (np.zeros((10, 1)), r"groups must be 1-D .* got shape \(10, 1\)"),
    (np.arange(10) > 4, "groups must hold real numbers.*bool"),
    (np.arange(10).astype(str), "groups must hold real numbers.*string"),
    (np.arange(10) + 1j, "groups must hold real numbers.*complex"),
    (np.arange(10) + 0.5, r"groups must hold integer labels; row 0 holds 0\.5"),
    (np.where(np.arange(10) == 3, np.nan, 1.0), r"groups contains non-finite values .* in 1 of 10 rows \(first: row 3\)"),
    (np.where(np.arange(10) == 7, np.inf, 1.0), r"groups contains non-finite values .*first: row 7"),
    (np.full(10, 1e30), "groups must hold integer labels; row 0 holds 1e\\+30"),
])
def test_bad_groups_raise_input_error_naming_the_field(groups, words):
    zi, zt = _pairs(0, 10, 3)
    with pytest.raises(InputError, match=words):
        retrieval_metrics(zi, zt, ks=1, groups=groups)
    with pytest.raises(InputError, match=words):
        retrieval_ranks(zi, zt, groups=groups)


def test_whole_number_float_and_list_labels_equal_integer_labels():
    zi, zt = _pairs(9, 30, 4)
    labels = np.arange(30) // 3
    expected = retrieval_ranks(zi, zt, groups=labels)
    _same_ranks(retrieval_ranks(zi, zt, groups=labels.astype(np.float64)), expected)
    _same_ranks(retrieval_ranks(zi, zt, groups=labels.tolist()), expected)
    _same_ranks(retrieval_ranks(zi, zt, groups=labels.astype(np.uint8)), expected)


def test_rows_without_duplicates_report_none():
    z, _ = _pairs(0, 50, 8)
    assert duplicate_rows(z) == 0
    np.testing.assert_array_equal(duplicate_groups(z), np.arange(50))


def test_duplicates_are_rows_of_the_same_direction_and_point_to_the_first():
    z, _ = _pairs(1, 6, 3)
    z[3] = z[1]
    z[5] = 4.0 * z[1]
    z[4] = z[0] + 1e-9
    np.testing.assert_array_equal(duplicate_groups(z), [0, 1, 2, 1, 4, 1])
    assert duplicate_rows(z) == 2


@settings(max_examples=40, deadline=None)
@given(hnp.arrays(np.int8, st.tuples(st.integers(2, 30), st.integers(1, 3)), elements=st.integers(1, 3)))
def test_duplicate_count_is_rows_minus_distinct_rows_on_positive_integer_data(z):
    distinct_directions = {tuple(np.round(row / np.linalg.norm(row), 12)) for row in z.astype(np.float64)}
    assert duplicate_rows(z) == z.shape[0] - len(distinct_directions)
    labels = duplicate_groups(z)
    assert (labels <= np.arange(z.shape[0])).all()
    assert (labels[labels] == labels).all()


@pytest.mark.parametrize(("z", "words"), [
    (np.zeros((3, 2)), "z has 3 zero-norm rows"),
    (np.ones(3), "z must be 2-D"),
    (np.array([[1.0, np.nan], [1.0, 2.0]]), "z contains non-finite values"),
])
def test_duplicate_detection_rejects_bad_embeddings(z, words):
    with pytest.raises(InputError, match=words):
        duplicate_rows(z)
