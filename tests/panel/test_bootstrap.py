"""Bootstrap: seeded percentile intervals, the vectorised resampling against a loop over the
same resamples, coverage behaviour, and the retrieval helper."""

from __future__ import annotations

import numpy as np
import pytest

from mmgate.errors import ConfigError, InputError
from mmgate.panel import bootstrap
from mmgate.panel.bootstrap import bootstrap_ci, retrieval_cis
from mmgate.panel.retrieval import metrics_from_ranks, retrieval_ranks


def _loop_ci(values: np.ndarray, n_boot: int, alpha: float, seed: int, statistic) -> tuple[float, float]:
    """Slow reference: one resample at a time from the same index draws."""
    idx = np.concatenate(list(bootstrap._resamples(len(values), n_boot, seed)))
    reps = [statistic(values[row]) for row in idx]
    lo, hi = np.quantile(reps, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


@pytest.mark.parametrize(("statistic", "fn"), [("mean", np.mean), ("median", np.median)])
def test_vectorised_bootstrap_matches_a_loop_over_the_same_resamples(statistic, fn):
    values = np.random.default_rng(0).standard_normal(57)
    got = bootstrap_ci(values, n_boot=300, alpha=0.1, seed=4, statistic=statistic)
    assert got == pytest.approx(_loop_ci(values, 300, 0.1, 4, fn), abs=1e-12)


def test_resamples_do_not_depend_on_the_chunk_size(monkeypatch):
    values = np.random.default_rng(1).standard_normal(40)
    expected = bootstrap_ci(values, n_boot=100, seed=2)
    monkeypatch.setattr(bootstrap, "_CELLS_PER_CHUNK", 40 * 7)
    assert bootstrap_ci(values, n_boot=100, seed=2) == expected


def test_bootstrap_is_seeded():
    values = np.random.default_rng(2).standard_normal(80)
    assert bootstrap_ci(values, seed=5) == bootstrap_ci(values, seed=5)
    assert bootstrap_ci(values, seed=5) != bootstrap_ci(values, seed=6)


def test_interval_brackets_the_mean_and_narrows_with_more_queries():
    rng = np.random.default_rng(3)
    small, large = rng.normal(2.0, 1.0, 50), rng.normal(2.0, 1.0, 5000)
    lo_s, hi_s = bootstrap_ci(small, n_boot=500)
    lo_l, hi_l = bootstrap_ci(large, n_boot=500)
    assert lo_s < small.mean() < hi_s and lo_l < large.mean() < hi_l
    assert (hi_l - lo_l) < 0.25 * (hi_s - lo_s)
    assert hi_l - lo_l == pytest.approx(2 * 1.96 / np.sqrt(5000), rel=0.2)


def test_constant_values_give_a_point_interval_and_bools_count_as_hits():
    assert bootstrap_ci(np.full(20, 0.75)) == (0.75, 0.75)
    assert bootstrap_ci(np.ones(20, dtype=bool)) == (1.0, 1.0)


@pytest.mark.parametrize(("kwargs", "error", "words"), [
    ({"n_boot": 0}, ConfigError, "n_boot must be an integer >= 1"),
    ({"alpha": 1.5}, ConfigError, "alpha must be a number strictly between 0 and 1"),
    ({"seed": -1}, ConfigError, "seed must be an integer >= 0"),
    ({"statistic": "mode"}, ConfigError, "statistic must be one of"),
])
def test_bad_settings_raise_config_error(kwargs, error, words):
    with pytest.raises(error, match=words):
        bootstrap_ci(np.ones(5), **kwargs)


@pytest.mark.parametrize(("values", "words"), [(np.ones((2, 2)), "non-empty 1-D"), (np.array([]), "non-empty 1-D"),
                                               (np.array([1.0, np.nan]), "non-finite"),
                                               (np.array([1j, 2j]), "must hold real numbers")])
def test_bad_values_raise_input_error(values, words):
    with pytest.raises(InputError, match=words):
        bootstrap_ci(values)


def test_retrieval_intervals_cover_every_metric_and_bracket_the_point_values():
    rng = np.random.default_rng(4)
    zi = rng.standard_normal((300, 8))
    ranks = retrieval_ranks(zi, zi + 1.2 * rng.standard_normal((300, 8)))
    point = metrics_from_ranks(ranks, ks=(1, 5))
    cis = retrieval_cis(ranks, ks=(1, 5), n_boot=400, seed=1)
    assert set(cis) == set(point)
    for name, (lo, hi) in cis.items():
        assert lo <= point[name] <= hi, name
    assert cis == retrieval_cis(ranks, ks=(1, 5), n_boot=400, seed=1)


def test_retrieval_intervals_match_bootstrap_ci_of_each_column_with_the_same_seed():
    rng = np.random.default_rng(5)
    zi = rng.standard_normal((120, 6))
    ranks = retrieval_ranks(zi, zi + rng.standard_normal((120, 6)))
    cis = retrieval_cis(ranks, ks=(3,), n_boot=200, seed=9)
    assert cis["i2t_recall@3"] == pytest.approx(bootstrap_ci(ranks.i2t < 3, n_boot=200, seed=9))
    assert cis["t2i_mrr"] == pytest.approx(bootstrap_ci(1.0 / (ranks.t2i + 1.0), n_boot=200, seed=9))
    gap = (ranks.i2t < 3).astype(float) - (ranks.t2i < 3)
    assert cis["symmetry_gap@3"] == pytest.approx(bootstrap_ci(gap, n_boot=200, seed=9))
