"""Gate results round-trip through JSON (how they travel from xdist workers) unchanged."""

import math

import pytest

from mmgate.gating.results import GateResult, Threshold


def test_round_trip_through_json_is_lossless():
    original = GateResult(
        gate_id="gates/test_acceptance.py::test_x[seed0]",
        gate="retrieval_top1",
        family="acceptance",
        params={"seed": 0},
        status="failed",
        required=True,
        measured={"value": 0.5, "ci_low": 0.4, "ci_high": 0.6},
        threshold=Threshold(">=", 0.55, "lower_bound"),
        message="m",
        evidence={"n": 3},
    )
    import json

    assert GateResult.from_json(json.loads(original.dumps())) == original


def test_non_finite_measurements_become_null():
    r = GateResult(
        gate_id="g", gate="g", family="f", params={}, status="failed", required=True, measured={"value": math.nan}
    )
    assert r.to_json()["measured"] == {"value": None}


@pytest.mark.parametrize("value, holds", [(0.55, True), (0.6, True), (0.5, False), (math.nan, False)])
def test_threshold_holds_only_for_finite_values_on_the_right_side(value, holds):
    assert Threshold(">=", 0.55).holds(value) is holds


def test_unknown_status_or_operator_is_rejected():
    with pytest.raises(ValueError, match="status"):
        GateResult(gate_id="g", gate="g", family="f", params={}, status="ok", required=True)
    with pytest.raises(ValueError, match="op"):
        Threshold(">", 1.0)
