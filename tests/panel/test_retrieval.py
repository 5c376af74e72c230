"""Retrieval ranks and metrics: checked against a full-matrix argsort reference, hand-made cases
and properties (pair permutation, modality swap, per-row scaling, block size, thread count)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mmgate.errors import ConfigError, InputError
from mmgate.panel import rank_sweep
from mmgate.panel.retrieval import (
    RetrievalRanks,
    metrics_from_ranks,
    retrieval_metrics,
    retrieval_ranks,
)


def _pairs(seed: int, n: int, d: int, noise: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    zi = rng.standard_normal((n, d))
    return zi, zi + noise * rng.standard_normal((n, d))


def _argsort_reference(zi: np.ndarray, zt: np.ndarray) -> dict[str, np.ndarray]:
    """Slow reference: full score matrix, a stable argsort per query, position of the true match."""
    ui = zi / np.linalg.norm(zi, axis=1, keepdims=True)
    ut = zt / np.linalg.norm(zt, axis=1, keepdims=True)
    scores = ui @ ut.T
    n = scores.shape[0]
    i2t = np.array([int(np.flatnonzero(np.argsort(-scores[i], kind="stable") == i)[0]) for i in range(n)])
    t2i = np.array([int(np.flatnonzero(np.argsort(-scores[:, j], kind="stable") == j)[0]) for j in range(n)])
    return {"i2t": i2t, "t2i": t2i, "i2t_top1": scores.argmax(axis=1), "t2i_top1": scores.argmax(axis=0)}


def _same_ranks(a: RetrievalRanks, b: RetrievalRanks) -> None:
    for name in ("i2t", "t2i", "i2t_top1", "t2i_top1", "i2t_ties", "t2i_ties"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


@pytest.mark.parametrize(("n", "d", "noise"), [(2, 3, 1.0), (17, 4, 1.0), (120, 8, 0.7), (300, 16, 2.0),
                                               (300, 16, 0.4), (400, 24, 0.6)])
def test_ranks_and_top1_match_the_argsort_reference(n, d, noise):
    zi, zt = _pairs(n + d, n, d, noise)
    ranks = retrieval_ranks(zi, zt)
    expected = _argsort_reference(zi, zt)
    for name, values in expected.items():
        np.testing.assert_array_equal(getattr(ranks, name), values, err_msg=name)
    assert not ranks.i2t_ties.any() and not ranks.t2i_ties.any()


def _small_integer_pairs(draw_array: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split a drawn (2, n, d) integer array into a pair, replacing zero rows (rejected by design)."""
    zi, zt = (side.astype(np.float64) for side in draw_array)
    for side in (zi, zt):
        side[~side.any(axis=1)] = 1.0
    return zi, zt


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.int8, st.tuples(st.just(2), st.integers(2, 12), st.integers(1, 4)), elements=st.integers(-2, 2)),
       st.sampled_from([1, 2, 5, None]))
def test_ranks_ties_and_top1_follow_the_definitions_on_tie_heavy_integer_data(drawn, block):
    zi, zt = _small_integer_pairs(drawn)
    ui = zi / np.linalg.norm(zi, axis=1, keepdims=True)
    ut = zt / np.linalg.norm(zt, axis=1, keepdims=True)
    scores = ui @ ut.T
    n, d = zi.shape
    tol = np.sqrt(d) * np.finfo(np.float64).eps
    own = np.diag(scores)
    others = ~np.eye(n, dtype=bool)
    ranks = retrieval_ranks(zi, zt, block_size=block)
    np.testing.assert_array_equal(ranks.i2t, ((scores > own[:, None] + tol) & others).sum(axis=1))
    np.testing.assert_array_equal(ranks.t2i, ((scores > own[None, :] + tol) & others).sum(axis=0))
    np.testing.assert_array_equal(ranks.i2t_ties, ((np.abs(scores - own[:, None]) <= tol) & others).sum(axis=1))
    np.testing.assert_array_equal(ranks.t2i_ties, ((np.abs(scores - own[None, :]) <= tol) & others).sum(axis=0))
    for q in range(n):
        assert (ranks.i2t_top1[q] == q) == (ranks.i2t[q] == 0)
        assert (ranks.t2i_top1[q] == q) == (ranks.t2i[q] == 0)
        assert scores[q, ranks.i2t_top1[q]] >= scores[q].max() - tol
        assert scores[ranks.t2i_top1[q], q] >= scores[:, q].max() - tol


@pytest.mark.parametrize("ks", [(1,), (1, 5, 10), (3, 1)])
def test_recall_and_mrr_match_the_argsort_reference(ks):
    zi, zt = _pairs(3, 200, 12, 1.5)
    ref = _argsort_reference(zi, zt)
    metrics = retrieval_metrics(zi, zt, ks=ks)
    for k in ks:
        assert metrics[f"i2t_recall@{k}"] == pytest.approx(np.mean(ref["i2t"] < k))
        assert metrics[f"t2i_recall@{k}"] == pytest.approx(np.mean(ref["t2i"] < k))
        assert metrics[f"symmetry_gap@{k}"] == pytest.approx(np.mean(ref["i2t"] < k) - np.mean(ref["t2i"] < k))
    assert metrics["i2t_mrr"] == pytest.approx(np.mean(1.0 / (ref["i2t"] + 1)))
    assert metrics["t2i_mrr"] == pytest.approx(np.mean(1.0 / (ref["t2i"] + 1)))
    assert set(metrics) == ({f"{p}_recall@{k}" for p in ("i2t", "t2i") for k in ks} | {"i2t_mrr", "t2i_mrr"}
                            | {f"symmetry_gap@{k}" for k in ks})


def test_metrics_follow_the_rank_definitions_on_hand_made_ranks():
    zeros = np.zeros(4, dtype=np.int64)
    ranks = RetrievalRanks(np.array([0, 1, 4, 9]), np.array([0, 0, 0, 3]), zeros, zeros, zeros, zeros)
    m = metrics_from_ranks(ranks, ks=(1, 2))
    assert m["i2t_recall@1"] == 0.25 and m["i2t_recall@2"] == 0.5
    assert m["t2i_recall@1"] == 0.75 and m["symmetry_gap@1"] == -0.5
    assert m["i2t_mrr"] == pytest.approx((1 + 1 / 2 + 1 / 5 + 1 / 10) / 4)
    assert m["t2i_mrr"] == pytest.approx((3 + 1 / 4) / 4)


def test_identical_towers_retrieve_perfectly():
    zi, _ = _pairs(0, 150, 10)
    m = retrieval_metrics(zi, zi.copy())
    assert m["i2t_recall@1"] == m["t2i_recall@1"] == 1.0
    assert m["i2t_mrr"] == m["t2i_mrr"] == 1.0 and m["symmetry_gap@1"] == 0.0


def test_shuffled_pairs_retrieve_near_chance():
    rng = np.random.default_rng(5)
    zi, zt = rng.standard_normal((2000, 32)), rng.standard_normal((2000, 32))
    m = retrieval_metrics(zi, zt, ks=(1, 10))
    assert m["i2t_recall@1"] < 0.005 and m["t2i_recall@1"] < 0.005
    assert m["i2t_recall@10"] < 0.015 and m["t2i_recall@10"] < 0.015
    assert m["i2t_mrr"] < 0.01 and m["t2i_mrr"] < 0.01


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_collapsed_embeddings_show_as_ties_not_misses(dtype):
    rng = np.random.default_rng(1)
    n = 40
    zi = (np.tile(rng.standard_normal(6), (n, 1)) * rng.uniform(0.5, 3.0, (n, 1))).astype(dtype)
    zt = np.tile(rng.standard_normal(6), (n, 1)).astype(dtype)
    ranks = retrieval_ranks(zi, zt, block_size=7)
    assert (ranks.i2t == 0).all() and (ranks.t2i == 0).all()
    assert (ranks.i2t_ties == n - 1).all() and (ranks.t2i_ties == n - 1).all()
    np.testing.assert_array_equal(ranks.i2t_top1, np.arange(n))
    np.testing.assert_array_equal(ranks.t2i_top1, np.arange(n))


def test_a_duplicated_caption_ties_with_the_true_caption_in_its_favour():
    zi, zt = _pairs(2, 30, 8, 0.05)
    zt[7] = zt[3]
    zi[7] = zi[3]
    ranks = retrieval_ranks(zi, zt)
    assert ranks.i2t_ties[3] == ranks.i2t_ties[7] == 1 and ranks.t2i_ties[3] == ranks.t2i_ties[7] == 1
    assert ranks.i2t[3] == ranks.i2t[7] == 0
    assert ranks.i2t_top1[3] == 3 and ranks.i2t_top1[7] == 7


def test_ranks_are_read_only_int64():
    ranks = retrieval_ranks(*_pairs(0, 10, 3))
    assert ranks.n == 10 and ranks.i2t.dtype == np.int64
    with pytest.raises(ValueError):
        ranks.i2t[0] = 5


@pytest.mark.parametrize("noise", [1.0, 0.01])
def test_block_size_does_not_change_results(noise):
    zi, zt = _pairs(11, 57, 6, noise)
    zt[10] = zt[20]
    reference = retrieval_ranks(zi, zt, block_size=57)
    for block in (1, 3, 8, None, 1000):
        _same_ranks(retrieval_ranks(zi, zt, block_size=block), reference)


def test_thread_count_does_not_change_results(monkeypatch):
    zi, zt = _pairs(4, 700, 5, 1.5)
    monkeypatch.setattr(rank_sweep, "_THREAD_MIN", 0)
    monkeypatch.setattr(rank_sweep.os, "cpu_count", lambda: 1)
    assert rank_sweep._thread_count(600, 700, 50) == 1
    single = retrieval_ranks(zi, zt, block_size=600)
    monkeypatch.setattr(rank_sweep.os, "cpu_count", lambda: 4)
    assert rank_sweep._thread_count(600, 700, 50) == 4
    _same_ranks(retrieval_ranks(zi, zt, block_size=600), single)


@pytest.mark.parametrize("noise", [0.3, 1.0, 3.0])
def test_subset_and_full_strict_passes_agree(monkeypatch, noise):
    zi, zt = _pairs(6, 500, 12, noise)
    zt[40] = zt[41]
    zt[100:110] = zt[100]  # a tie ten wide: the top-1 of a beaten row is its lowest top-scoring column
    monkeypatch.setattr(rank_sweep, "SPARSE_COLUMNS", 1)
    monkeypatch.setattr(rank_sweep, "SPARSE_ROWS", 1)
    subset = retrieval_ranks(zi, zt, block_size=100)
    monkeypatch.setattr(rank_sweep, "SPARSE_COLUMNS", 10**9)
    monkeypatch.setattr(rank_sweep, "SPARSE_ROWS", 10**9)
    _same_ranks(retrieval_ranks(zi, zt, block_size=100), subset)


def test_float32_and_float16_inputs_agree_with_float64_on_separated_scores():
    zi, zt = _pairs(8, 100, 16, 0.3)
    expected = retrieval_ranks(zi, zt)
    for dtype in (np.float32, np.float16):
        got = retrieval_ranks(zi.astype(dtype), zt.astype(dtype))
        np.testing.assert_array_equal(got.i2t == 0, expected.i2t == 0)
    assert retrieval_ranks(np.rint(zi * 10).astype(np.int32), np.rint(zt * 10).astype(np.int32)).n == 100


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 40), d=st.integers(1, 6),
       noise=st.sampled_from([0.1, 1.0, 5.0]))
def test_jointly_permuting_pairs_permutes_the_ranks(seed, n, d, noise):
    zi, zt = _pairs(seed, n, d, noise)
    perm = np.random.default_rng(seed).permutation(n)
    base = retrieval_ranks(zi, zt)
    moved = retrieval_ranks(zi[perm], zt[perm])
    for name in ("i2t", "t2i", "i2t_ties", "t2i_ties"):
        np.testing.assert_array_equal(getattr(moved, name), getattr(base, name)[perm])
    assert retrieval_metrics(zi[perm], zt[perm], ks=1) == pytest.approx(retrieval_metrics(zi, zt, ks=1))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 40), d=st.integers(1, 6))
def test_swapping_the_modalities_swaps_the_directions(seed, n, d):
    zi, zt = _pairs(seed, n, d)
    a, b = retrieval_ranks(zi, zt), retrieval_ranks(zt, zi)
    for x, y in (("i2t", "t2i"), ("i2t_top1", "t2i_top1"), ("i2t_ties", "t2i_ties")):
        np.testing.assert_array_equal(getattr(a, x), getattr(b, y))
    ma, mb = retrieval_metrics(zi, zt, ks=1), retrieval_metrics(zt, zi, ks=1)
    assert ma["i2t_recall@1"] == mb["t2i_recall@1"] and ma["symmetry_gap@1"] == -mb["symmetry_gap@1"]


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 30), d=st.integers(1, 5),
       exponents=st.lists(st.integers(-60, 60), min_size=60, max_size=60))
def test_power_of_two_row_scaling_leaves_every_output_unchanged(seed, n, d, exponents):
    zi, zt = _pairs(seed, n, d)
    zi[: n // 3] = zi[0]
    scale = np.ldexp(1.0, np.array(exponents))
    _same_ranks(retrieval_ranks(zi * scale[:n, None], zt * scale[30:30 + n, None]), retrieval_ranks(zi, zt))


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 40), d=st.integers(2, 6))
def test_positive_row_scaling_leaves_the_metrics_unchanged(seed, n, d):
    zi, zt = _pairs(seed, n, d)
    rng = np.random.default_rng(seed + 1)
    scaled = retrieval_metrics(zi * rng.uniform(1e-3, 1e3, (n, 1)), zt * rng.uniform(1e-3, 1e3, (n, 1)), ks=1)
    assert scaled == pytest.approx(retrieval_metrics(zi, zt, ks=1))


@pytest.mark.parametrize(("kwargs", "error", "words"), [
    ({"ks": (11,)}, InputError, "k=11 exceeds the number of items N=10"),
    ({"ks": (0,)}, ConfigError, "k must be an integer >= 1"),
    ({"ks": (2.5,)}, ConfigError, "k must be an integer"),
    ({"ks": ()}, ConfigError, "ks must name at least one"),
    ({"block_size": 0}, ConfigError, "block_size"),
])
def test_bad_arguments_raise_naming_the_argument(kwargs, error, words):
    zi, zt = _pairs(0, 10, 3)
    with pytest.raises(error, match=words):
        retrieval_metrics(zi, zt, **kwargs)


def _bad(kind: str) -> tuple[object, object]:
    zi, zt = _pairs(0, 6, 3)
    if kind == "rows":
        return zi, zt[:5]
    if kind == "dims":
        return zi, zt[:, :2]
    if kind == "one_d":
        return zi[0], zt[0]
    if kind == "single":
        return zi[:1], zt[:1]
    if kind == "nan":
        zt[2, 1] = np.nan
    if kind == "inf":
        zi[4, 0] = -np.inf
    if kind == "zero":
        zi[[1, 3]] = 0.0
    if kind == "bool":
        return zi > 0, zt
    if kind == "complex":
        return zi, zt + 1j
    if kind == "object":
        return zi.astype(object), zt
    if kind == "strings":
        return zi, zt.astype(str)
    return zi, zt


@pytest.mark.parametrize(("kind", "words"), [
    ("rows", "shape mismatch: z_img has N=6 rows but z_txt has N=5"),
    ("dims", "shape mismatch: z_img has d=3 columns but z_txt has d=2"),
    ("one_d", "z_img must be 2-D"),
    ("single", r"at least 2 rows \(N >= 2\); got N=1"),
    ("nan", "z_txt contains non-finite values"),
    ("inf", "z_img contains non-finite values"),
    ("zero", "z_img has 2 zero-norm rows"),
    ("bool", "z_img must hold real numbers.*bool"),
    ("complex", "z_txt must hold real numbers.*complex"),
    ("object", "z_img must hold real numbers.*object"),
    ("strings", "z_txt must hold real numbers.*string"),
])
def test_bad_embeddings_raise_input_error_naming_the_problem(kind, words):
    zi, zt = _bad(kind)
    with pytest.raises(InputError, match=words):
        retrieval_metrics(zi, zt, ks=1)
    with pytest.raises(InputError, match=words):
        retrieval_ranks(zi, zt)
