"""The release decision: APPROVE only when every required gate ran and every gate that ran passed;
a gate whose interval straddles its limit (inconclusive) leaves the release INCOMPLETE, never REJECT."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

from mmgate.gating.catalogue import GateSpec
from mmgate.gating.results import STATUSES, GateResult

EXIT_CODES = {"APPROVE": 0, "REJECT": 10, "INCOMPLETE": 11,
              "SETUP_ERROR": 13}  # the run could not be set up: no gate ran (mmgate.plugin.preflight)
NEVER_RAN = ("missing", "skipped")


@dataclass(frozen=True)
class Decision:
    """The decision with every gate's final result (missing gates included) and the id lists;
    ``missing_required`` holds the gates whose absent evidence blocks approval."""

    decision: str
    exit_code: int
    results: tuple[GateResult, ...]
    passed: tuple[str, ...]
    failed: tuple[str, ...]
    inconclusive: tuple[str, ...]
    errored: tuple[str, ...]
    missing: tuple[str, ...]
    not_applicable: tuple[str, ...]
    missing_required: tuple[str, ...]

    def counts(self) -> dict[str, int]:
        """How many gate cases ended in each status."""
        counts = {status: 0 for status in STATUSES}
        for result in self.results:
            counts[result.status] += 1
        return counts


def decide(
    observed: Mapping[str, GateResult],
    expected: Mapping[str, tuple[GateSpec, dict, str]],
    is_required: Callable[[str], bool],
    missing_reason: str,
) -> Decision:
    """Combine the observed results (by catalogue key) with the catalogue; absent gates are missing.

    Failure evidence wins (REJECT). Otherwise an inconclusive case (the canary is too small to
    decide it) or any gate that never ran (deselected, skipped, lost) gives INCOMPLETE, and so does
    a required gate that could not apply to the subject.
    """
    results = [
        observed.get(key) or _missing(spec, params, gate_id, is_required(spec.name), missing_reason)
        for key, (spec, params, gate_id) in expected.items()
    ]
    extra = [result for key, result in observed.items() if key not in expected]
    results.extend(extra)

    def ids(*statuses: str) -> tuple[str, ...]:
        return tuple(r.gate_id for r in results if r.status in statuses)

    missing_required = tuple(r.gate_id for r in results if r.status in NEVER_RAN
                             or (r.required and r.status == "not_applicable"))
    if ids("failed", "error"):
        verdict = "REJECT"
    elif missing_required or ids("inconclusive"):
        verdict = "INCOMPLETE"
    else:
        verdict = "APPROVE"
    return Decision(
        decision=verdict,
        exit_code=EXIT_CODES[verdict],
        results=tuple(results),
        passed=ids("passed"),
        failed=ids("failed"),
        inconclusive=ids("inconclusive"),
        errored=ids("error"),
        missing=ids("missing", "skipped"),
        not_applicable=ids("not_applicable"),
        missing_required=missing_required,
    )


def _missing(spec: GateSpec, params: dict, gate_id: str, required: bool, reason: str) -> GateResult:
    return GateResult(
        gate_id=gate_id,
        gate=spec.name,
        family=spec.family,
        params=params,
        status="missing",
        required=required,
        message=f"no evidence: {reason}",
        reason=reason,
    )
