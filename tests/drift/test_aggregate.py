"""Outlier-aware aggregation: the mean dilutes a token loop under a hinge that rmse and p95 clear."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmgate.drift.aggregate import (
    AGGREGATES,
    DEFAULT_AGGREGATE,
    aggregate,
    aggregate_all,
)
from mmgate.errors import ConfigError, InputError

HINGE = 0.5


def _softmax(z):
    z = z - z.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def _kl_per_position(p, q):
    return (p * (np.log(np.clip(p, 1e-9, 1)) - np.log(np.clip(q, 1e-9, 1)))).sum(-1)


@pytest.fixture(scope="module")
def note_students():
    """The aggregation note's synthetic students: per-position KL of a coherent trait and a token loop."""
    rng = np.random.default_rng(0)
    vocab, positions = 200, 60
    base_logits = rng.standard_normal((positions, vocab))
    p_ref = _softmax(base_logits)
    order = np.argsort(p_ref.mean(0))
    trait_logits = base_logits.copy()
    trait_logits[:, order[len(order) // 2]] += 1.6
    loop_logits = base_logits.copy()
    for t in (12, 13, 14, 15):
        loop_logits[t] = -10.0
        loop_logits[t, order[3]] = 12.0
    return (_kl_per_position(_softmax(trait_logits), p_ref), _kl_per_position(_softmax(loop_logits), p_ref))


def test_the_loop_mean_hides_under_the_hinge_while_rmse_and_p95_clear_it(note_students):
    _, loop = note_students
    summary = aggregate_all(loop)
    assert summary["mean"] < HINGE
    assert summary["rmse"] > HINGE
    assert summary["p95"] > HINGE


def test_the_loop_to_trait_separation_grows_from_mean_to_rmse_to_p95(note_students):
    trait, loop = note_students
    ratio = {how: aggregate(loop, how) / aggregate(trait, how) for how in ("mean", "rmse", "p95")}
    assert ratio["mean"] < ratio["rmse"] < ratio["p95"]


def test_default_aggregate_is_the_outlier_aware_p95(note_students):
    _, loop = note_students
    assert DEFAULT_AGGREGATE == "p95"
    assert aggregate(loop) == aggregate(loop, "p95")


def test_aggregates_have_their_textbook_values():
    values = [0.0, 0.0, 0.0, 4.0]
    assert aggregate_all(values) == {"mean": 1.0, "rmse": 2.0, "p95": pytest.approx(3.4), "max": 4.0}
    assert list(aggregate_all(values)) == list(AGGREGATES)


def test_aggregates_flatten_any_shape_and_survive_huge_values():
    assert aggregate([[1.0, 3.0], [5.0, 7.0]], "mean") == 4.0
    assert aggregate([1e200, 1e200], "rmse") == pytest.approx(1e200)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0, 1e6, allow_nan=False, allow_subnormal=False), min_size=1, max_size=50))
def test_aggregates_of_divergences_are_ordered(values):
    s = aggregate_all(values)
    assert s["mean"] <= s["rmse"] * (1 + 1e-12)
    assert min(values) <= s["p95"] <= s["max"] == max(values)


@pytest.mark.parametrize("how", ["median", "MEAN", None, 95])
def test_unknown_aggregate_names_the_allowed_ones(how):
    with pytest.raises(ConfigError, match="mean, rmse, p95, max"):
        aggregate([1.0, 2.0], how)


@pytest.mark.parametrize(("values", "match"), [
    ([], "must not be empty"),
    ([1.0, float("nan")], "non-finite"),
    ([float("inf")], "non-finite"),
    (["a"], "real numbers"),
])
def test_empty_or_non_finite_values_are_rejected(values, match):
    with pytest.raises(InputError, match=match):
        aggregate(values, "mean")
    with pytest.raises(InputError, match=match):
        aggregate_all(values)
