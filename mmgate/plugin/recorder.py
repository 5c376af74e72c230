"""What a gate test calls to judge a measurement: it builds the GateResult, attaches it to the
pytest item (so it travels to the xdist controller on the report) and passes, fails or skips."""

from __future__ import annotations

import base64
import json
from typing import Any, Mapping, Sequence

import pytest

from mmgate.audit.summary_md import format_measured, format_threshold
from mmgate.gating.catalogue import GateSpec
from mmgate.gating.contract import Contract
from mmgate.gating.interval_rule import pairs_to_decide
from mmgate.gating.results import GateResult, Threshold

RESULT_PROPERTY = "mmgate_result"
SUBJECT_PROPERTY = "mmgate_subject"
PLOTS_PROPERTY = "mmgate_plots"
PROFILE_PROPERTY = "mmgate_profile"
# Properties that carry data from a gate to the controller; never written to a JUnit XML report.
INTERNAL_PROPERTIES = (RESULT_PROPERTY, SUBJECT_PROPERTY, PLOTS_PROPERTY, PROFILE_PROPERTY)
# Snapshot-plot limit -> the gate whose contract threshold it draws.
PLOT_LIMIT_GATES = {"recall@1": "retrieval_top1", "recall@5": "retrieval_top5",
                    "hubness_concentration": "hubness"}


class GateRecorder:
    """Bound to one gate test item; ``check`` and ``not_applicable`` end the gate."""

    def __init__(self, item: pytest.Item, spec: GateSpec, params: Mapping[str, Any],
                 case_id: str, contract: Contract) -> None:
        self._item = item
        self.spec = spec
        self.params = dict(params)
        self.gate_id = spec.gate_id(case_id)
        self.contract = contract

    @property
    def required(self) -> bool:
        """Whether the contract requires this gate to produce evidence."""
        return self.contract.is_required(self.spec.name)

    def threshold(self, op: str | None = None, limit: float | None = None) -> Threshold:
        """The contract's limit for this gate, or an explicit one for gates the contract has no
        number for; either way on the statistic (point or bound) the contract names. A gate whose
        threshold the contract leaves unset ends here as ``not_applicable``."""
        if op is None:
            unset = self.contract.unset_reason(self.spec.name)
            if unset is not None:
                self.not_applicable(unset)
            declared = self.contract.threshold(self.spec.name)
            op, limit = declared["op"], declared["value"]
        return Threshold(op=op, value=float(limit), basis=self.contract.basis(self.spec.name))

    def check(self, what: str, value: float, threshold: Threshold, *,
              ci: tuple[float, float] | None = None, pairs: int | None = None,
              evidence: Mapping[str, Any] | None = None) -> None:
        """Judge the measured statistic against the threshold (``Threshold.judge``): pass, fail the
        test, or, when its interval straddles the limit, record it inconclusive (the release is then
        INCOMPLETE) with about how many pairs beyond the canary's ``pairs`` would decide it."""
        measured = {"value": float(value)}
        if ci is not None:
            measured.update(ci_low=float(ci[0]), ci_high=float(ci[1]))
        status = threshold.judge(float(value), ci)
        interval = f" (CI [{ci[0]:.4g}, {ci[1]:.4g}])" if ci is not None else ""
        basis = {"point": "", "interval": "", "lower_bound": " on its lower bound",
                 "upper_bound": " on its upper bound"}[threshold.basis]
        if threshold.basis == "interval" and ci is None:
            basis = " (point estimate: no interval)"
        verdict = {"passed": "holds", "failed": "VIOLATED", "inconclusive": "INCONCLUSIVE"}[status]
        message = (f"{what} = {value:.4g}{interval}{basis} {threshold.op} {threshold.value:.4g}: "
                   f"{verdict} - {self.spec.meaning}")
        if status == "inconclusive":
            needed = None if pairs is None else pairs_to_decide(float(value), ci, threshold, pairs)
            if needed is not None:
                measured["pairs_needed"] = float(needed)
            message = (f"{what} = {value:.4g}{interval} {threshold.op} {threshold.value:.4g}: INCONCLUSIVE, "
                       f"the interval straddles the limit; "
                       + (f"about {needed} pairs would decide it (the canary has {pairs})"
                          if needed is not None else "the point sits on the limit: no canary size decides it"))
        self._record(status, message, measured, threshold, None, evidence)
        if status == "failed":
            pytest.fail(message, pytrace=False)
        if status == "inconclusive":
            pytest.skip(f"mmgate: {message}")

    def not_applicable(self, reason: str, evidence: Mapping[str, Any] | None = None) -> None:
        """Record that the gate cannot apply to this subject, and skip the test."""
        self._record("not_applicable", f"not applicable: {reason}", {}, None, reason, evidence)
        pytest.skip(f"mmgate: not applicable: {reason}")

    def plot_limits(self) -> dict[str, float]:
        """The contract's limits on quantities the snapshot plots show (``render_snapshot_plots``
        draws them); a gate whose threshold the contract leaves unset is left out."""
        limits = {}
        for key, gate in PLOT_LIMIT_GATES.items():
            declared = None if self.contract.unset_reason(gate) else self.contract.threshold(gate)
            if declared is not None and declared.get("value") is not None:
                limits[key] = float(declared["value"])
        return limits

    def note_subject(self, seed: int, subject: Any) -> None:
        """Attach the subject's name and identity so the controller can record them."""
        note = {"seed": seed, "name": subject.name, "identity": subject.identity()}
        self._item.user_properties.append((SUBJECT_PROPERTY, note))

    def attach_plots(self, plots: Mapping[str, bytes]) -> None:
        """Ship rendered PNGs to the controller (rendered here, so xdist workers share the work)."""
        encoded = {name: base64.b64encode(png).decode("ascii") for name, png in plots.items()}
        self._item.user_properties.append((PLOTS_PROPERTY, encoded))

    def attach_profile(self, profile: Mapping[str, Any]) -> None:
        """Ship a seed's monitoring profile to the controller, which writes the drift baseline."""
        self._item.user_properties.append((PROFILE_PROPERTY, json.dumps(profile, allow_nan=False)))

    def fail(self, message: str, evidence: Mapping[str, Any] | None = None) -> None:
        """Fail the gate on evidence that is not a number against a threshold."""
        self._record("failed", message, {}, None, None, evidence)
        pytest.fail(message, pytrace=False)

    def _record(self, status: str, message: str, measured: Mapping[str, float],
                threshold: Threshold | None, reason: str | None,
                evidence: Mapping[str, Any] | None) -> None:
        result = GateResult(
            gate_id=self.gate_id,
            gate=self.spec.name,
            family=self.spec.family,
            params=self.params,
            status=status,
            required=self.required,
            measured=measured,
            threshold=threshold,
            message=message,
            reason=reason,
            evidence=dict(evidence or {}),
        )
        self._item.user_properties.append((RESULT_PROPERTY, result.dumps()))


def junit_properties(result: GateResult | None,
                     properties: Sequence[tuple[str, object]]) -> list[tuple[str, object]]:
    """What a gate's report shows as JUnit XML properties: the user's own properties, without the
    internal ones (results, plots, profiles travel to the controller, not into the XML), plus the
    case's ``status``, ``measured`` (value and interval) and ``threshold`` once it has a result."""
    kept = [(name, value) for name, value in properties if name not in INTERNAL_PROPERTIES]
    if result is None:
        return kept
    data = result.to_json()
    return [*kept, ("status", result.status), ("measured", format_measured(data.get("measured"))),
            ("threshold", format_threshold(data.get("threshold")))]
