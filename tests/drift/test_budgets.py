"""Drift budgets: change budgets in a direction, absolute or relative, on the point or the bound;
divergence budgets on the statistic itself; contract tables that override the defaults."""

from __future__ import annotations

import math

import pytest

from mmgate.drift.budgets import (
    DEFAULT_BUDGETS,
    METRICS,
    Budget,
    budgets_from_table,
    check_change,
    check_divergence,
)
from mmgate.errors import ConfigError
from mmgate.gating.contract import Contract, ContractError


def test_an_absolute_decrease_within_the_limit_passes_and_beyond_it_fails():
    budget = Budget("retrieval_top1_i2t", "absolute", 0.05, "decrease")
    assert check_change(budget, 0.80, 0.76).passed
    failed = check_change(budget, 0.80, 0.70)
    assert not failed.passed and failed.statistic == pytest.approx(0.10)


def test_movement_against_the_guarded_direction_is_free():
    budget = Budget("mean_cosine_image", "absolute", 0.05, "increase")
    check = check_change(budget, 0.10, -0.50)
    assert check.passed and check.statistic == 0.0


def test_any_direction_guards_both_ways():
    budget = Budget("rank_divergence", "absolute", 0.05, "any")
    assert check_change(budget, 0.2, 0.2).passed
    assert not check_change(budget, 0.1, 0.2).passed
    assert not check_change(budget, 0.2, 0.1).passed


def test_a_relative_budget_divides_by_the_baseline():
    budget = Budget("effective_rank_image", "relative", 0.15, "decrease")
    assert check_change(budget, 20.0, 17.5).statistic == pytest.approx(0.125)
    assert not check_change(budget, 20.0, 16.0).passed
    assert check_change(budget, 0.0, 1.0).statistic == 0.0
    from_zero = check_change(Budget("m", "relative", 0.1, "increase"), 0.0, 1.0)
    assert math.isinf(from_zero.statistic) and not from_zero.passed
    assert from_zero.to_dict()["statistic"] is None  # JSON has no infinity


def test_the_bound_basis_judges_the_adverse_end_of_the_interval():
    budget = Budget("retrieval_top1_i2t", "absolute", 0.05, "decrease", "bound")
    assert check_change(budget, 0.80, 0.79, ci=(0.70, 0.85)).statistic == pytest.approx(0.10)
    up = Budget("symmetry_gap", "absolute", 0.05, "increase", "bound")
    assert check_change(up, 0.02, 0.03, ci=(0.0, 0.09)).statistic == pytest.approx(0.07)


def test_a_bound_budget_without_an_interval_is_an_error_not_a_silent_point():
    budget = Budget("symmetry_gap", "absolute", 0.05, "increase", "bound")
    with pytest.raises(ConfigError, match="no interval"):
        check_change(budget, 0.02, 0.03)


def test_a_divergence_budget_limits_the_statistic_itself():
    budget = Budget("input_drift_image", "divergence", 0.2, "increase")
    assert check_divergence(budget, 0.19).passed and not check_divergence(budget, 0.21).passed
    with pytest.raises(ConfigError, match="no baseline value"):
        check_change(budget, 0.0, 0.1)
    with pytest.raises(ConfigError, match="needs a baseline value"):
        check_divergence(DEFAULT_BUDGETS[0], 0.1)


@pytest.mark.parametrize("fields, problem", [
    ({"kind": "ratio"}, "kind: expected one of"),
    ({"direction": "sideways"}, "direction: expected one of"),
    ({"limit": -1}, "limit: expected a finite number >= 0"),
    ({"limit": float("nan")}, "limit: expected a finite number >= 0"),
    ({"basis": "median"}, "basis: expected one of"),
    ({"aggregate": "median"}, "aggregate: expected one of"),
])
def test_a_bad_budget_field_is_named(fields, problem):
    with pytest.raises(ConfigError, match=f"drift_budgets.symmetry_gap.{problem}"):
        budgets_from_table("c.toml", {"symmetry_gap": fields})


def test_a_table_overrides_only_the_fields_it_names():
    budgets = {b.metric: b for b in budgets_from_table("c.toml", {"symmetry_gap": {"limit": 0.02}})}
    assert budgets["symmetry_gap"].limit == 0.02 and budgets["symmetry_gap"].direction == "increase"
    assert tuple(budgets) == METRICS
    assert {"rankme_share_image", "norm_divergence", "embedding_mmd_joint"} <= set(METRICS)


@pytest.mark.parametrize("table, problem", [
    ({"nonsense": {"limit": 1}}, "unknown metric"),
    ({"symmetry_gap": 0.1}, "expected a table"),
    ({"symmetry_gap": {"threshold": 0.1}}, "unknown field"),
    ({"embedding_shift_image": {"kind": "absolute"}}, "measured as a divergence"),
    ({"retrieval_top1_i2t": {"kind": "divergence", "direction": "increase"}}, "measured as a change"),
    ({"mean_cosine_image": {"basis": "bound"}}, "bootstrap interval"),
    ({"retrieval_top1_i2t": {"basis": "bound", "direction": "any"}}, "one direction"),
    ({"output_drift": {"aggregate": "max"}}, "take an aggregate"),
    ({"embedding_shift_text": {"aggregate": None}}, "need one"),
])
def test_a_bad_table_is_named(table, problem):
    with pytest.raises(ConfigError, match=problem):
        budgets_from_table("c.toml", table)


def test_contract_budgets_round_trip_and_change_the_hash():
    tighter = Contract.from_mapping({"drift_budgets": {"output_drift": {"limit": 0.1}}})
    assert tighter.budget("output_drift").limit == 0.1
    assert Contract.from_mapping(tighter.to_dict()) == tighter
    assert tighter.sha256() != Contract().sha256()
    with pytest.raises(ContractError, match="drift_budgets.output_drift.limit"):
        Contract.from_mapping({"drift_budgets": {"output_drift": {"limit": "low"}}})
    with pytest.raises(ContractError, match="drift metric"):
        Contract().budget("psi")
