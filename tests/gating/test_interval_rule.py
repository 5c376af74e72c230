"""The interval rule: a case passes when its whole interval holds the limit, fails when its whole
interval breaks it, and is inconclusive across it, with the pairs that would decide it."""

import math

import pytest

from mmgate.gating.interval_rule import one_sided_level, pairs_to_decide
from mmgate.gating.results import Threshold

AT_LEAST = Threshold(">=", 0.5, "interval")
AT_MOST = Threshold("<=", 0.1, "interval")


@pytest.mark.parametrize("threshold, value, ci, status", [
    (AT_LEAST, 0.7, (0.6, 0.8), "passed"),
    (AT_LEAST, 0.55, (0.45, 0.65), "inconclusive"),
    (AT_LEAST, 0.45, (0.40, 0.52), "inconclusive"),
    (AT_LEAST, 0.3, (0.2, 0.4), "failed"),
    (AT_LEAST, 0.5, (0.5, 0.6), "passed"),  # a bound on the limit holds it
    (AT_MOST, 0.13, (0.03, 0.25), "inconclusive"),  # VideoCLIP's symmetry gap on 100 pairs
    (AT_MOST, 0.04, (0.0, 0.09), "passed"),
    (AT_MOST, 0.3, (0.2, 0.4), "failed"),
])
def test_the_interval_decides_in_three_values(threshold, value, ci, status):
    assert threshold.judge(value, ci) == status


def test_point_basis_and_a_missing_interval_decide_on_the_estimate():
    assert Threshold("<=", 0.1, "point").judge(0.13, (0.03, 0.25)) == "failed"
    assert AT_MOST.judge(0.13, None) == "failed" and AT_MOST.judge(0.05, None) == "passed"


def test_the_stricter_bound_bases_keep_their_two_values():
    assert Threshold(">=", 0.5, "lower_bound").judge(0.55, (0.45, 0.65)) == "failed"
    assert Threshold("<=", 0.1, "upper_bound").judge(0.05, (0.0, 0.09)) == "passed"


@pytest.mark.parametrize("ci", [(math.nan, 0.2), (0.0, math.inf)])
def test_a_non_finite_interval_never_passes(ci):
    assert AT_MOST.judge(0.05, ci) == "failed"


def test_pairs_needed_scale_as_the_squared_ratio_of_spread_to_distance():
    # beyond the limit the side facing it is the lower one: 100 * (0.10 / 0.03)^2 = 1111.1
    assert pairs_to_decide(0.13, (0.03, 0.25), AT_MOST, 100) == 1112
    # below the limit the spread towards it counts: 256 * (0.066 / 0.057)^2
    assert pairs_to_decide(0.043, (0.0, 0.109), AT_MOST, 256) == math.ceil(256 * (0.066 / 0.057) ** 2)


def test_a_point_on_the_limit_has_no_deciding_size():
    assert pairs_to_decide(0.1, (0.05, 0.15), AT_MOST, 100) is None


def test_each_bound_of_a_two_sided_interval_is_one_sided_at_half_alpha():
    assert one_sided_level(0.05) == pytest.approx(0.975)
