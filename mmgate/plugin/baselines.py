"""The controller's side of drift baselines: which baseline a run was compared against, and
recording a new one from an APPROVEd run's monitoring profiles."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from mmgate.drift.baseline import baseline_report, write_baseline
from mmgate.errors import MmgateError
from mmgate.gating.decision import Decision
from mmgate.plugin.runspec import RunSpec


def compared(spec: RunSpec) -> dict[str, Any] | None:
    """Path and content hash of the baseline the run was compared against (None: none given)."""
    if spec.settings.baseline is None:
        return None
    sha = spec.baseline.content_sha256 if spec.baseline is not None else None
    return {"path": str(spec.settings.baseline), "content_sha256": sha}


@dataclass(frozen=True)
class Recording:
    """What became of a requested baseline: the report and where it went, or why there is none."""

    line: str | None = None
    report: Mapping[str, Any] | None = None
    written: Mapping[str, Any] | None = None

    @property
    def failed(self) -> bool:
        """A baseline was built but could not be written."""
        return self.report is not None and self.written is None


def record(spec: RunSpec, decision: Decision, profiles: Mapping[int, Mapping[str, Any]], run_id: str,
           created_utc: str) -> Recording:
    """Write the baseline the run was asked to record (also kept for the bundle) and say so in a
    line for the terminal. Only an APPROVEd, complete run becomes a baseline."""
    path = spec.settings.record_baseline
    if path is None:
        return Recording()
    if decision.decision != "APPROVE":
        return Recording(f"baseline not recorded: the decision is {decision.decision}, and a baseline is "
                         f"recorded only from an APPROVEd run")
    missing = [seed for seed in range(spec.seeds) if seed not in profiles]
    if missing:
        return Recording(f"baseline not recorded: no monitoring profile arrived for seed(s) {missing}")
    try:
        report = baseline_report(profiles, run_id=run_id, created_utc=created_utc,
                                 contract_sha256=spec.contract.sha256())
    except MmgateError as exc:
        return Recording(f"baseline not recorded: {exc}")
    try:
        sha = write_baseline(path, report)
    except (MmgateError, OSError) as exc:
        return Recording(f"baseline could not be recorded at {path}: {type(exc).__name__}: {exc}", report)
    return Recording(f"baseline recorded={path} sha256={sha}", report, {"path": str(path), "content_sha256": sha})
