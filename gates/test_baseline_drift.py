"""Drift gates against the baseline of an approved release (``--mmgate-baseline``): each monitored
metric's change within its budget. Recording a baseline (``--mmgate-record-baseline``) ships each
seed's monitoring profile from here to the controller."""

from mmgate.drift.budgets import METRICS
from mmgate.errors import InputError


def test_drift_budget(gate, mmgate_context, measured, seed, metric):
    if mmgate_context.recording and metric == METRICS[0]:
        gate.attach_profile(mmgate_context.monitoring_profile(seed))
    if not mmgate_context.comparing:
        gate.not_applicable("no baseline to compare against (--mmgate-baseline PATH)")
    try:
        check, details = mmgate_context.drift_check(seed, metric)
    except InputError as exc:
        gate.not_applicable(f"{metric} cannot be compared: {exc}")
    gate.check(f"{metric}: {check.budget.kind} {check.budget.direction} against the baseline",
               check.statistic, gate.threshold("<=", check.budget.limit),
               evidence={**check.to_dict(), **details})
