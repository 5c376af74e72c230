"""Drift budgets: how far each monitored quantity may move from the baseline (TFX / MLflow style).

A *change* budget compares a panel metric with its baseline value, as an absolute or relative
change in a direction, optionally on the current bootstrap bound; a *divergence* budget limits a
statistic that is already a distance from the baseline (embedding MMD, input-profile drift, the
per-item embedding shift aggregated by a named aggregate).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

from mmgate.drift.aggregate import AGGREGATES, DEFAULT_AGGREGATE
from mmgate.errors import ConfigError

KINDS = ("absolute", "relative", "divergence")
DIRECTIONS = ("increase", "decrease", "any")
BUDGET_BASES = ("point", "bound")
_FIELDS = ("kind", "direction", "limit", "basis", "aggregate")
CHANGE_KINDS = ("absolute", "relative")
# metrics the panel measures with a bootstrap interval: the only ones a "bound" basis can judge
INTERVAL_METRICS = frozenset({"retrieval_top1_i2t", "retrieval_top1_t2i", "symmetry_gap"})
# divergence metrics that summarise per-item values, so an aggregate applies to them
ITEMWISE_METRICS = frozenset({"embedding_shift_image", "embedding_shift_text"})


@dataclass(frozen=True)
class Budget:
    """``metric`` may move by at most ``limit`` (in ``kind`` units) in ``direction``.

    ``basis`` "bound" judges the current value by its bootstrap bound in the adverse direction
    (metrics with an interval, one direction); ``aggregate`` names how per-item divergences are
    summarised (the per-item embedding shifts only).
    """

    metric: str
    kind: str
    limit: float
    direction: str = "any"
    basis: str = "point"
    aggregate: str | None = None

    def __post_init__(self) -> None:
        where = f"drift_budgets.{self.metric}"
        if self.kind not in KINDS:
            raise ConfigError(f"{where}.kind: expected one of {list(KINDS)}, got {self.kind!r}")
        if self.direction not in DIRECTIONS:
            raise ConfigError(f"{where}.direction: expected one of {list(DIRECTIONS)}, got {self.direction!r}")
        if self.basis not in BUDGET_BASES:
            raise ConfigError(f"{where}.basis: expected one of {list(BUDGET_BASES)}, got {self.basis!r}")
        limit = self.limit
        if isinstance(limit, bool) or not isinstance(limit, (int, float)) or not math.isfinite(limit) or limit < 0:
            raise ConfigError(f"{where}.limit: expected a finite number >= 0, got {limit!r}")
        object.__setattr__(self, "limit", float(limit))
        if self.aggregate is not None and self.aggregate not in AGGREGATES:
            raise ConfigError(f"{where}.aggregate: expected one of {list(AGGREGATES)}, got {self.aggregate!r}")
        if self.kind == "divergence" and self.direction != "increase":
            raise ConfigError(f"{where}.direction: a divergence budget limits an increase, got {self.direction!r}")
        if self.basis == "bound" and (self.metric not in INTERVAL_METRICS or self.direction == "any"):
            raise ConfigError(f"{where}.basis: 'bound' needs a metric with a bootstrap interval "
                              f"({sorted(INTERVAL_METRICS)}) guarded in one direction")
        if (self.aggregate is not None) != (self.metric in ITEMWISE_METRICS):
            raise ConfigError(f"{where}.aggregate: only the per-item metrics {sorted(ITEMWISE_METRICS)} take "
                              f"an aggregate, and they need one; got {self.aggregate!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, part of the contract and its hash."""
        return {"metric": self.metric, "kind": self.kind, "limit": self.limit, "direction": self.direction,
                "basis": self.basis, "aggregate": self.aggregate}


def _change(metric: str, kind: str, limit: float, direction: str, basis: str = "point") -> Budget:
    return Budget(metric, kind, limit, direction, basis)


def _divergence(metric: str, limit: float, aggregate: str | None = None) -> Budget:
    return Budget(metric, "divergence", limit, "increase", "point", aggregate)


DEFAULT_BUDGETS: tuple[Budget, ...] = (
    _change("retrieval_top1_i2t", "absolute", 0.05, "decrease"),
    _change("retrieval_top1_t2i", "absolute", 0.05, "decrease"),
    _change("symmetry_gap", "absolute", 0.05, "increase"),
    _change("mean_cosine_image", "absolute", 0.05, "increase"),
    _change("mean_cosine_text", "absolute", 0.05, "increase"),
    _change("effective_rank_image", "relative", 0.15, "decrease"),
    _change("effective_rank_text", "relative", 0.15, "decrease"),
    _change("hubness_i2t", "absolute", 0.05, "increase"),
    _change("hubness_t2i", "absolute", 0.05, "increase"),
    _change("rankme_share_image", "relative", 0.15, "decrease"),
    _change("rankme_share_text", "relative", 0.15, "decrease"),
    _change("rank_divergence", "absolute", 0.05, "increase"),
    _change("norm_divergence", "absolute", 0.10, "increase"),
    _divergence("embedding_shift_image", 0.10, DEFAULT_AGGREGATE),
    _divergence("embedding_shift_text", 0.10, DEFAULT_AGGREGATE),
    _divergence("embedding_mmd_joint", 0.10),
    _divergence("input_drift_image", 0.20),
    _divergence("input_drift_text", 0.20),
    _divergence("output_drift", 0.20),
)
METRICS: tuple[str, ...] = tuple(budget.metric for budget in DEFAULT_BUDGETS)
_DEFAULTS: Mapping[str, Budget] = MappingProxyType({budget.metric: budget for budget in DEFAULT_BUDGETS})


def budgets_from_table(source: str, table: object) -> tuple[Budget, ...]:
    """The default budgets with a contract's ``drift_budgets`` table applied: metric -> fields."""
    if not isinstance(table, Mapping):
        raise ConfigError(f"{source}: drift_budgets: expected a table of metric -> budget fields, got {table!r}")
    chosen = dict(_DEFAULTS)
    for metric, fields in table.items():
        if metric not in _DEFAULTS:
            raise ConfigError(f"{source}: drift_budgets.{metric}: unknown metric; expected one of {list(METRICS)}")
        if not isinstance(fields, Mapping):
            raise ConfigError(f"{source}: drift_budgets.{metric}: expected a table of {list(_FIELDS)}, got {fields!r}")
        unknown = sorted(set(fields) - set(_FIELDS))
        if unknown:
            raise ConfigError(f"{source}: drift_budgets.{metric}: unknown field(s) {unknown}; expected a subset "
                              f"of {list(_FIELDS)}")
        try:
            chosen[metric] = replace(_DEFAULTS[metric], **dict(fields))
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from exc
        if (chosen[metric].kind == "divergence") != (_DEFAULTS[metric].kind == "divergence"):
            expected = "divergence" if _DEFAULTS[metric].kind == "divergence" else " or ".join(CHANGE_KINDS)
            raise ConfigError(f"{source}: drift_budgets.{metric}.kind: {metric} is measured as a "
                              f"{'divergence' if expected == 'divergence' else 'change'}; expected {expected}, "
                              f"got {chosen[metric].kind!r}")
    return tuple(chosen[metric] for metric in METRICS)


@dataclass(frozen=True)
class BudgetCheck:
    """One budget judged on one seed: the statistic compared with the limit, and why."""

    budget: Budget
    baseline: float | None
    current: float
    statistic: float
    passed: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready evidence (an infinite relative change, from a zero baseline, becomes null)."""
        return {"budget": self.budget.to_dict(), "baseline": self.baseline,
                "current": self.current if math.isfinite(self.current) else None,
                "statistic": self.statistic if math.isfinite(self.statistic) else None, "passed": self.passed}


def _adverse(budget: Budget, value: float, ci: tuple[float, float] | None) -> float:
    """The current value, or its bootstrap bound on the side the budget guards against."""
    if budget.basis == "point":
        return value
    if ci is None:
        raise ConfigError(f"drift_budgets.{budget.metric}.basis: 'bound', but the measurement has no interval")
    return ci[0] if budget.direction == "decrease" else ci[1]


def check_change(budget: Budget, baseline: float, current: float,
                 ci: tuple[float, float] | None = None) -> BudgetCheck:
    """Judge a change budget: the movement in the guarded direction must stay within the limit."""
    if budget.kind == "divergence":
        raise ConfigError(f"drift_budgets.{budget.metric}: a divergence budget has no baseline value to change from")
    judged = _adverse(budget, current, ci)
    delta = {"increase": judged - baseline, "decrease": baseline - judged,
             "any": abs(judged - baseline)}[budget.direction]
    if budget.kind == "relative":
        delta = delta / abs(baseline) if baseline != 0 else (math.inf if delta > 0 else 0.0)
    statistic = max(delta, 0.0)
    return BudgetCheck(budget, baseline, current, statistic, statistic <= budget.limit)


def check_divergence(budget: Budget, value: float) -> BudgetCheck:
    """Judge a divergence budget: the divergence itself must stay within the limit."""
    if budget.kind != "divergence":
        raise ConfigError(f"drift_budgets.{budget.metric}: a {budget.kind} budget needs a baseline value")
    return BudgetCheck(budget, None, value, value, value <= budget.limit)
