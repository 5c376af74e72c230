"""The controller's side of drift baselines: which baseline a run was compared against, and
recording a new one from an APPROVEd run's monitoring profiles."""

from __future__ import annotations

from typing import Any, Mapping

from mmgate.decision import Decision
from mmgate.drift.baseline import baseline_report, write_baseline
from mmgate.errors import MmgateError
from mmgate.runspec import RunSpec


def compared(spec: RunSpec) -> dict[str, Any] | None:
    """Path and content hash of the baseline the run was compared against (None: none given)."""
    if spec.settings.baseline is None:
        return None
    sha = spec.baseline.content_sha256 if spec.baseline is not None else None
    return {"path": str(spec.settings.baseline), "content_sha256": sha}


def record(spec: RunSpec, decision: Decision, profiles: Mapping[int, Mapping[str, Any]], run_id: str,
           created_utc: str) -> tuple[dict[str, Any] | None, str | None]:
    """Write the baseline the run was asked to record; return what was written (None when nothing
    was) and a line for the terminal. Only an APPROVEd, complete run becomes a baseline."""
    path = spec.settings.record_baseline
    if path is None:
        return None, None
    if decision.decision != "APPROVE":
        return None, (f"baseline not recorded: the decision is {decision.decision}, and a baseline is "
                      f"recorded only from an APPROVEd run")
    missing = [seed for seed in range(spec.settings.seeds) if seed not in profiles]
    if missing:
        return None, f"baseline not recorded: no monitoring profile arrived for seed(s) {missing}"
    try:
        report = baseline_report(profiles, run_id=run_id, created_utc=created_utc,
                                 contract_sha256=spec.contract.sha256())
        sha = write_baseline(path, report)
    except (MmgateError, OSError) as exc:
        return None, f"baseline could not be recorded at {path}: {type(exc).__name__}: {exc}"
    return {"path": str(path), "content_sha256": sha}, f"baseline recorded={path} sha256={sha}"
