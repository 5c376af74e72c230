"""Gate results: the unit of evidence a gate test produces and the controller decides on."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

from mmgate.errors import ConfigError
from mmgate.records.canonical import canonical_json_line

STATUSES = ("passed", "failed", "inconclusive", "error", "not_applicable", "skipped", "missing")
OPERATORS = {
    ">=": lambda value, limit: value >= limit,
    "<=": lambda value, limit: value <= limit,
    "==": lambda value, limit: value == limit,
}
BASES = ("point", "lower_bound", "upper_bound", "interval")


@dataclass(frozen=True)
class Threshold:
    """A pre-specified limit: ``measured[basis] <op> value``; on the "interval" basis the whole
    interval must hold it to pass and the whole interval must break it to fail (``judge``)."""

    op: str
    value: float
    basis: str = "point"

    def __post_init__(self) -> None:
        if self.op not in OPERATORS:
            raise ConfigError(f"Threshold.op: expected one of {sorted(OPERATORS)}, got {self.op!r}")
        if self.basis not in BASES:
            raise ConfigError(f"Threshold.basis: expected one of {BASES}, got {self.basis!r}")

    def holds(self, value: float) -> bool:
        """Whether a finite ``value`` satisfies the limit (NaN never does)."""
        return math.isfinite(value) and bool(OPERATORS[self.op](value, self.value))

    def judge(self, value: float, ci: tuple[float, float] | None) -> str:
        """"passed", "failed" or, on the interval basis when the interval straddles the limit,
        "inconclusive". A measurement without an interval is judged on its point estimate."""
        if self.basis == "point" or ci is None:
            return "passed" if self.holds(value) else "failed"
        if self.basis != "interval":
            return "passed" if self.holds(ci[0] if self.basis == "lower_bound" else ci[1]) else "failed"
        if self.op == "==":
            return "passed" if self.holds(value) else "failed"
        near, far = (ci[0], ci[1]) if self.op == ">=" else (ci[1], ci[0])
        if not (math.isfinite(near) and math.isfinite(far) and math.isfinite(value)):
            return "failed"
        if self.holds(near):
            return "passed"
        return "inconclusive" if self.holds(far) else "failed"

    def to_json(self) -> dict[str, Any]:
        """JSON form, as the gate-result schema describes it."""
        return {"op": self.op, "value": self.value, "basis": self.basis}


@dataclass(frozen=True)
class GateResult:
    """One gate's outcome with the numbers behind it; JSON-ready via :meth:`to_json`."""

    gate_id: str
    gate: str
    family: str
    params: Mapping[str, Any]
    status: str
    required: bool
    measured: Mapping[str, float | None] = field(default_factory=dict)
    threshold: Threshold | None = None
    message: str = ""
    reason: str | None = None
    evidence: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ConfigError(f"GateResult.status: expected one of {STATUSES}, got {self.status!r}")

    def to_json(self) -> dict[str, Any]:
        """JSON form (non-finite measurements become null), as the schema describes it."""
        return {
            "gate_id": self.gate_id,
            "gate": self.gate,
            "family": self.family,
            "params": dict(self.params),
            "status": self.status,
            "required": self.required,
            "measured": {k: _finite_or_none(v) for k, v in self.measured.items()},
            "threshold": None if self.threshold is None else self.threshold.to_json(),
            "message": self.message,
            "reason": self.reason,
            "evidence": dict(self.evidence),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "GateResult":
        """Inverse of :meth:`to_json`."""
        threshold = data.get("threshold")
        return cls(
            gate_id=data["gate_id"],
            gate=data["gate"],
            family=data["family"],
            params=dict(data["params"]),
            status=data["status"],
            required=bool(data["required"]),
            measured=dict(data["measured"]),
            threshold=None if threshold is None else Threshold(**threshold),
            message=data["message"],
            reason=data["reason"],
            evidence=dict(data["evidence"]),
        )

    def dumps(self) -> str:
        """Compact JSON used to ship the result on a pytest report (xdist-safe)."""
        return canonical_json_line(self.to_json())


def _finite_or_none(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None
