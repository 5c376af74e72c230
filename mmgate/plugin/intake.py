"""Turning pytest test reports (local or shipped from xdist workers) into gate results."""

from __future__ import annotations

import base64
import json

import pytest

from mmgate.gating.catalogue import GateSpec
from mmgate.gating.results import GateResult
from mmgate.plugin.recorder import (
    PLOTS_PROPERTY,
    PROFILE_PROPERTY,
    RESULT_PROPERTY,
    SUBJECT_PROPERTY,
)

_MAX_REASON = 2000


def recorded_result(report: pytest.TestReport) -> GateResult | None:
    """The result the gate recorded on its item, if it got that far."""
    shipped = [value for name, value in report.user_properties if name == RESULT_PROPERTY]
    return GateResult.from_json(json.loads(shipped[-1])) if shipped else None


def subject_notes(report: pytest.TestReport) -> list[dict]:
    """Subject names and identities the gate attached (one per seed it used)."""
    return [dict(value) for name, value in report.user_properties if name == SUBJECT_PROPERTY]


def attached_plots(report: pytest.TestReport) -> dict[str, bytes]:
    """PNG files the gate rendered, by file name."""
    return {name: base64.b64decode(data) for key, value in report.user_properties
            if key == PLOTS_PROPERTY for name, data in value.items()}


def attached_profiles(report: pytest.TestReport) -> dict[int, dict]:
    """Monitoring profiles the gate shipped, by seed (for the drift baseline)."""
    profiles = [json.loads(value) for name, value in report.user_properties if name == PROFILE_PROPERTY]
    return {int(profile["seed"]): profile for profile in profiles}


def crash_reason(report: pytest.TestReport) -> str:
    """One readable line (or a few) saying why a test errored."""
    if isinstance(report.longrepr, tuple):
        text = str(report.longrepr[2])
    else:
        crash = getattr(report.longrepr, "reprcrash", None)
        text = crash.message if crash is not None else report.longreprtext.strip()
    return text[-_MAX_REASON:] or f"{report.when} phase failed"


def merge(previous: GateResult | None, report: pytest.TestReport, spec: GateSpec,
          params: dict, gate_id: str, required: bool) -> GateResult | None:
    """The gate's result after one more report phase; errors in any phase win over a pass."""
    recorded = recorded_result(report)

    def errored(reason: str) -> GateResult:
        return GateResult(gate_id=gate_id, gate=spec.name, family=spec.family, params=params,
                          status="error", required=required,
                          message=f"gate errored in {report.when}: {reason}", reason=reason,
                          evidence=dict(recorded.evidence) if recorded else {})

    if report.when == "setup" and report.passed:
        return previous
    if report.when == "teardown" and not report.failed:
        return previous
    if report.failed:
        if report.when == "call" and recorded is not None and recorded.status == "failed":
            return recorded
        return errored(crash_reason(report))
    if report.skipped:
        if recorded is not None and recorded.status in ("not_applicable", "inconclusive"):
            return recorded
        reason = crash_reason(report)
        return GateResult(gate_id=gate_id, gate=spec.name, family=spec.family, params=params,
                          status="skipped", required=required, message=f"skipped: {reason}",
                          reason=reason)
    if recorded is None:
        return errored("the gate finished without recording a result")
    return recorded
