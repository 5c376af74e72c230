"""Bootstrap replicates of the non-linear panel statistics equal the panel's own functions on the
resampled rows, are seeded, and give intervals that contain the estimate."""

import numpy as np
import pytest

from mmgate import panel
from mmgate.panel.replicates import (MAX_DRAWN_ROWS, Resamples, concentration_replicates, geometry_replicates,
                                     interval, norm_cv_replicates, top1_concentration)


def rows(n=60, d=12, seed=0):
    return np.random.default_rng(seed).standard_normal((n, d))


def test_geometry_replicates_equal_the_panel_on_the_resampled_rows():
    z = rows()
    resamples = Resamples(z.shape[0], 3, seed=4)
    reps = geometry_replicates(z, resamples)
    for i, counts in enumerate(resamples):
        drawn = np.repeat(z, counts, axis=0)
        assert reps["effective_rank"][i] == pytest.approx(panel.effective_rank(drawn), rel=1e-9)
        assert reps["rankme_share"][i] == pytest.approx(panel.rankme(drawn) / z.shape[1], rel=1e-9)
        assert reps["direction_energy"][i] == pytest.approx(panel.top_eigen_share(drawn, k=1), rel=1e-9)
        assert reps["variance_min"][i] == pytest.approx(panel.coordinate_variance(drawn)["min"], rel=1e-9)
        # duplicated rows are pairs i != j of the drawn matrix, as mean_cosine counts them
        assert reps["mean_cosine"][i] == pytest.approx(panel.mean_cosine(drawn), abs=1e-12)


def test_the_same_seed_draws_the_same_resamples_and_another_seed_others():
    first = [c.tolist() for c in Resamples(30, 4, seed=1)]
    assert first == [c.tolist() for c in Resamples(30, 4, seed=1)]
    assert first != [c.tolist() for c in Resamples(30, 4, seed=2)]


def test_a_large_canary_draws_at_most_max_drawn_rows_and_scales_the_deviations():
    resamples = Resamples(4 * MAX_DRAWN_ROWS, 1, seed=0)
    assert next(iter(resamples)).sum() == MAX_DRAWN_ROWS and resamples.scale == pytest.approx(0.5)


def test_the_interval_is_recentred_on_the_estimate_and_clipped_to_the_range():
    reps = np.array([0.30, 0.32, 0.34, 0.36, 0.38])  # biased upward by 0.1 around a point of 0.24
    lo, hi = interval(0.24, reps, alpha=0.5)
    assert lo < 0.24 < hi and hi - lo == pytest.approx(np.quantile(reps, 0.75) - np.quantile(reps, 0.25))
    assert interval(0.99, reps, alpha=0.05, high=1.0)[1] <= 1.0


def test_norm_cv_and_concentration_replicates_match_their_definitions():
    norms = np.abs(rows(40, 1)[:, 0]) + 1.0
    resamples = Resamples(40, 2, seed=3)
    for value, counts in zip(norm_cv_replicates(norms, resamples), resamples):
        drawn = np.repeat(norms, counts)
        assert value == pytest.approx(drawn.std() / drawn.mean())
    top1 = np.array([0, 0, 0, 1, 2, 3])
    hits = np.bincount(top1, minlength=6)
    assert top1_concentration(hits, 6, None) > 0.0
    assert top1_concentration(np.ones(6), 6, None) == pytest.approx(0.0)
    reps = concentration_replicates(top1, 6, None, Resamples(6, 5, seed=0))
    assert reps.shape == (5,) and np.all((reps >= 0) & (reps <= 1))
