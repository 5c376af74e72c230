"""Detection power: gate the built-in subject under every injected failure and under healthy seeds,
then tabulate which gates fired (the detection matrix) and whether each failure's own family caught it.

Each condition is gated by the real plugin: ``python -m pytest --mmgate --mmgate-builtin NAME`` in a
subprocess whose working directory is empty, so no project configuration or conftest applies. The
healthy condition is one run over ``healthy_seeds`` seeds; every seed is one healthy sample, approved
when none of its gate cases failed, errored or lacks evidence.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from mmgate.audit.charts import render_heatmap
from mmgate.audit.risks import RISKS
from mmgate.errors import ConfigError, InputError
from mmgate.gating.catalogue import GATE_BY_TEST, GATES, gate_key
from mmgate.lab.conditions import CONDITIONS, FAILURE_FAMILIES, Condition
from mmgate.records.atomic import write_bytes_atomic, write_text_atomic
from mmgate.records.reports import strict_report, write_report

REPORT_KIND = "detection_matrix"
MATRIX_FILE = "detection_matrix.json"
HEATMAP_FILE = "detection_matrix.png"
DEFAULT_SEEDS = 4
DEFAULT_HEALTHY_SEEDS = 5
DEFAULT_JOBS = 2
BASELINE_FILE = "healthy_baseline.json"
FIRED = ("failed", "error")
NEVER_RAN = ("missing", "skipped")
# failure family -> the chapter-3 risk (mmgate.audit.risks) whose controls are that family's gates
FAMILY_RISKS: Mapping[str, str] = {
    "dominance": "modality_dominance",
    "spurious_alignment": "confounding_shortcut",
    "pairing_corruption": "pairing_corruption",
    "collapse": "representation_collapse",
}
# failure family -> catalogue gate families that also belong to it
FAMILY_GATE_FAMILIES: Mapping[str, tuple[str, ...]] = {
    "scoring_drift": ("scoring",),
    "preprocessing_drift": ("drift",),
}
_BUNDLE_LINE = re.compile(r"^mmgate: decision=(?P<decision>[A-Z]+) bundle=(?P<bundle>.+)$")
_SEED = re.compile(r"\[seed(?P<seed>\d+)(?:-|\])")


def family_gates() -> dict[str, tuple[str, ...]]:
    """Gate names attributed to each failure family: the controls of its risk in ``mmgate.audit.risks``
    plus catalogue gates of its gate families; fixed before any run, never fitted to results."""
    by_risk = {risk["risk"]: risk for risk in RISKS}
    out = {}
    for family in FAILURE_FAMILIES:
        names: set[str] = set()
        if family in FAMILY_RISKS:
            for control in by_risk[FAMILY_RISKS[family]]["controls"]:
                names.update(control["gates"])
        names.update(spec.name for spec in GATES if spec.family in FAMILY_GATE_FAMILIES.get(family, ()))
        out[family] = tuple(spec.name for spec in GATES if spec.name in names)
    return out


@dataclass(frozen=True)
class GateCase:
    """One gate case of a run as acceptance.json records it."""

    gate_id: str
    status: str
    required: bool


@dataclass(frozen=True)
class RunOutcome:
    """What one gated run of a condition reported (``error`` set when it left no usable bundle)."""

    condition: str
    seeds: int
    decision: str
    exit_code: int
    cases: tuple[GateCase, ...]
    bundle: str | None
    error: str | None
    wall_s: float


def gate_name(gate_id: str) -> str:
    """The catalogue gate name of a gate id, e.g. ``retrieval_top1``; InputError if unknown."""
    test = gate_key(gate_id).split("[", 1)[0]
    if test not in GATE_BY_TEST:
        raise InputError(f"gate id {gate_id!r}: not a gate of the catalogue")
    return GATE_BY_TEST[test].name


def case_seed(gate_id: str) -> int:
    """The seed of a gate case from its id (``...[seed3-image]`` -> 3); InputError if it has none."""
    match = _SEED.search(gate_key(gate_id))
    if match is None:
        raise InputError(f"gate id {gate_id!r}: no seed parameter")
    return int(match["seed"])


def verdict(cases: Sequence[GateCase]) -> str:
    """The release rule (mmgate.gating.decision) over some cases: any failure rejects; an
    inconclusive case, one that never ran, or a required one that could not apply leaves the
    decision incomplete; otherwise approve."""
    if any(case.status in FIRED for case in cases):
        return "REJECT"
    if any(case.status in NEVER_RAN or case.status == "inconclusive"
           or (case.required and case.status == "not_applicable")
           for case in cases):
        return "INCOMPLETE"
    return "APPROVE"


def _fired(cases: Sequence[GateCase]) -> tuple[str, ...]:
    names = {gate_name(case.gate_id) for case in cases if case.status in FIRED}
    return tuple(spec.name for spec in GATES if spec.name in names)


def fired_fraction(cases: Sequence[GateCase]) -> dict[str, float]:
    """Per gate name, the share of its cases that ran (passed, failed or errored) and failed or
    errored; gates none of whose cases ran are omitted."""
    totals: dict[str, int] = {}
    fired: dict[str, int] = {}
    for case in cases:
        if case.status not in ("passed", *FIRED):
            continue
        name = gate_name(case.gate_id)
        totals[name] = totals.get(name, 0) + 1
        fired[name] = fired.get(name, 0) + int(case.status in FIRED)
    return {spec.name: fired[spec.name] / totals[spec.name] for spec in GATES if spec.name in totals}


def matrix_row(outcome: RunOutcome, condition: Condition,
               attribution: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """One row of the detection matrix: the condition, its decision, the gates that fired, the
    failure families those gates belong to, and whether its own family's gates rejected it."""
    fired = _fired(outcome.cases)
    families = [family for family in FAILURE_FAMILIES if set(fired) & set(attribution[family])]
    return {
        "condition": condition.name,
        "family": condition.family,
        "injected": condition.injected,
        "description": condition.description,
        "seeds": outcome.seeds,
        "decision": outcome.decision,
        "exit_code": outcome.exit_code,
        "gates_fired": list(fired),
        "fired_families": families,
        "detected_by_own_family": condition.injected and outcome.decision == "REJECT"
                                  and condition.family in families,
        "fired_fraction": fired_fraction(outcome.cases),
        "bundle": outcome.bundle,
        "run_error": outcome.error,
        "wall_s": round(outcome.wall_s, 3),
    }


def seed_rows(outcome: RunOutcome) -> list[dict[str, Any]]:
    """Per seed of a (healthy) run: the release rule applied to that seed's cases alone."""
    if outcome.error is not None:
        return [{"seed": seed, "decision": "INCOMPLETE", "gates_fired": []} for seed in range(outcome.seeds)]
    by_seed: dict[int, list[GateCase]] = {seed: [] for seed in range(outcome.seeds)}
    for case in outcome.cases:
        by_seed.setdefault(case_seed(case.gate_id), []).append(case)
    return [{"seed": seed, "decision": verdict(cases) if cases else "INCOMPLETE",
             "gates_fired": list(_fired(cases))} for seed, cases in sorted(by_seed.items())]


def summary(rows: Sequence[Mapping[str, Any]], healthy: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Counts behind the CALIBRATE line."""
    injected = [row for row in rows if row["injected"]]
    return {
        "injected": len(injected),
        "rejected_injected": sum(row["decision"] == "REJECT" for row in injected),
        "detected_by_own_family": sum(bool(row["detected_by_own_family"]) for row in injected),
        "healthy_seeds": len(healthy),
        "healthy_approved": sum(seed["decision"] == "APPROVE" for seed in healthy),
    }


def calibrate_line(counts: Mapping[str, int]) -> str:
    """``CALIBRATE detected=<rejected injected>/<injected> healthy_approved=<approved>/<healthy>``."""
    return (f"CALIBRATE detected={counts['rejected_injected']}/{counts['injected']} "
            f"healthy_approved={counts['healthy_approved']}/{counts['healthy_seeds']}")


def detection_facts(outcomes: Sequence[RunOutcome], conditions: Mapping[str, Condition],
                    run_id: str, created_utc: str) -> dict[str, Any]:
    """The facts of a detection matrix from the runs' outcomes (pure: no files, no clock)."""
    attribution = family_gates()
    rows = [matrix_row(outcome, conditions[outcome.condition], attribution) for outcome in outcomes]
    healthy = [{"condition": outcome.condition, **seed}
               for outcome in outcomes if not conditions[outcome.condition].injected
               for seed in seed_rows(outcome)]
    return {
        "run_id": run_id,
        "created_utc": created_utc,
        "gate_names": [spec.name for spec in GATES],
        "family_gates": {family: list(names) for family, names in attribution.items()},
        "rows": rows,
        "healthy_seeds": healthy,
        "summary": summary(rows, healthy),
    }


def detection_report(facts: Mapping[str, Any]) -> dict[str, Any]:
    """The strict ``detection_matrix`` report around ``facts``."""
    rows = facts["rows"]
    missed = [row["condition"] for row in rows if row["injected"] and not row["detected_by_own_family"]]
    unrejected = [row["condition"] for row in rows if row["injected"] and row["decision"] != "REJECT"]
    line = calibrate_line(facts["summary"])
    return strict_report(
        REPORT_KIND, facts,
        assumptions={
            "attribution": "a gate belongs to a failure family when it is a control of that family's "
                           "risk in mmgate.audit.risks (or a drift gate for the drift families); the map "
                           "is fixed before the runs",
            "healthy_samples": "each seed of the healthy run is one healthy sample, approved when "
                               "none of its gate cases failed, errored or lacks evidence",
            "intensities": "each injected condition is one realistic intensity, not a sweep",
        },
        open_items=[f"{name}: not rejected by a gate of its own family" for name in missed],
        analysis=(f"{line}. Rejected by some gate but not by their own family: "
                  f"{sorted(set(missed) - set(unrejected)) or 'none'}. Not rejected at all: "
                  f"{unrejected or 'none'}."),
        draft_output={"calibrate_line": line, "undetected_by_own_family": missed,
                      "not_rejected": unrejected},
        questions_to_verify=[
            "Does each injected intensity match a failure seen in practice?",
            "Is each gate's attribution to a failure family the one reviewers expect?",
        ],
    )


def heatmap_png(facts: Mapping[str, Any]) -> bytes:
    """Heat map of the matrix: conditions (rows) x gate names (columns), cells the fired share."""
    gates = list(facts["gate_names"])
    rows = facts["rows"]
    labels = [f"{row['condition']} [{row['decision']}]" for row in rows]
    values = np.array([[row["fired_fraction"].get(gate, 0.0) for gate in gates] for row in rows])
    counts = facts["summary"]
    return render_heatmap(f"mmgate detection matrix: {calibrate_line(counts)}", labels, gates, values,
                          "share of the gate's cases that ran and failed")


def read_outcome(condition: str, seeds: int, bundle: Path, exit_code: int, wall_s: float) -> RunOutcome:
    """A run's outcome from its bundle's release_decision.json and acceptance.json."""
    try:
        decision = json.loads((bundle / "release_decision.json").read_text("utf-8"))["facts_provided"]
        gates = json.loads((bundle / "acceptance.json").read_text("utf-8"))["facts_provided"]["gates"]
        cases = tuple(GateCase(g["gate_id"], g["status"], bool(g["required"])) for g in gates)
        return RunOutcome(condition, seeds, decision["decision"], int(decision["exit_code"]), cases,
                          str(bundle), None, wall_s)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return failed_outcome(condition, seeds, exit_code, f"unreadable bundle {bundle}: {exc}", wall_s)


def failed_outcome(condition: str, seeds: int, exit_code: int, error: str, wall_s: float) -> RunOutcome:
    """The outcome of a run that left no usable bundle: no evidence, so INCOMPLETE (never a pass)."""
    return RunOutcome(condition, seeds, "INCOMPLETE", exit_code, (), None, error, wall_s)


def gate_command(name: str, seeds: int, runs_dir: Path, extra: Sequence[str] = ()) -> list[str]:
    """The pytest command line that gates condition ``name`` with the installed plugin."""
    return [sys.executable, "-m", "pytest", "--mmgate", "--mmgate-builtin", name,
            "--mmgate-seeds", str(seeds), "--mmgate-out", str(runs_dir), "-p", "no:cacheprovider", "-q",
            *extra]


def run_condition(name: str, seeds: int, out: Path, timeout_s: float, extra: Sequence[str] = ()) -> RunOutcome:
    """Gate one condition in a subprocess from an empty working directory (``extra`` options
    appended); its log goes to ``out/logs/<name>.log``."""
    runs_dir, logs_dir = out / "runs", out / "logs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    logs_dir.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"mmgate-calibrate-{name}-") as workdir:
        try:
            done = subprocess.run(gate_command(name, seeds, runs_dir.resolve(), extra), cwd=workdir,
                                  capture_output=True, text=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired as exc:
            log = exc.stdout or b""
            write_text_atomic(logs_dir / f"{name}.log",
                              log.decode("utf-8", "replace") if isinstance(log, bytes) else log)
            return failed_outcome(name, seeds, -1, f"timed out after {timeout_s:g} s",
                                  time.monotonic() - start)
    wall_s = time.monotonic() - start
    write_text_atomic(logs_dir / f"{name}.log", done.stdout + done.stderr)
    lines = [m for m in map(_BUNDLE_LINE.match, done.stdout.splitlines()) if m]
    if not lines:
        return failed_outcome(name, seeds, done.returncode,
                              f"no bundle line in the output (exit {done.returncode})", wall_s)
    return read_outcome(name, seeds, Path(lines[-1]["bundle"]), done.returncode, wall_s)


@dataclass(frozen=True)
class Calibration:
    """Where the matrix and heat map were written, and the CALIBRATE line."""

    matrix_path: Path
    heatmap_path: Path
    facts: dict[str, Any]
    line: str


def chosen_conditions(names: Sequence[str] | None) -> tuple[Condition, ...]:
    """The named conditions (all when None) in registry order; ConfigError names unknown ones."""
    if names is None:
        return tuple(CONDITIONS.values())
    unknown = sorted(set(names) - set(CONDITIONS))
    if unknown or not names:
        raise ConfigError(f"--conditions: unknown condition(s) {unknown}; expected a non-empty "
                          f"comma-separated subset of {list(CONDITIONS)}")
    return tuple(c for c in CONDITIONS.values() if c.name in set(names))


def calibrate(out: Path, names: Sequence[str] | None = None, seeds: int = DEFAULT_SEEDS,
              healthy_seeds: int = DEFAULT_HEALTHY_SEEDS, jobs: int = DEFAULT_JOBS,
              timeout_s: float = 1800.0) -> Calibration:
    """Gate every chosen condition, then write the matrix and heat map.

    The healthy condition runs first, over at least as many seeds as the injected ones, and records
    the drift baseline every injected condition is then compared against (``jobs`` runs at a
    time), as a release would be monitored against its approved predecessor. Without the healthy
    condition there is no baseline and the drift budgets do not apply."""
    for flag, value in (("--seeds", seeds), ("--healthy-seeds", healthy_seeds), ("--jobs", jobs)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{flag}: expected an integer >= 1, got {value!r}")
    chosen = chosen_conditions(names)
    started = datetime.now(timezone.utc)
    run_id = f"calibrate-{started.strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:8]}"
    target = Path(out) / run_id

    baseline = (target / BASELINE_FILE).resolve()
    outcomes = [run_condition(condition.name, max(seeds, healthy_seeds), target, timeout_s,
                              ("--mmgate-record-baseline", str(baseline)))
                for condition in chosen if not condition.injected]
    compare = ("--mmgate-baseline", str(baseline)) if baseline.is_file() else ()

    def gate(condition: Condition) -> RunOutcome:
        return run_condition(condition.name, seeds, target, timeout_s, compare)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        outcomes += list(pool.map(gate, [condition for condition in chosen if condition.injected]))
    facts = detection_facts(outcomes, CONDITIONS, run_id, started.isoformat())
    matrix_path, heatmap_path = target / MATRIX_FILE, target / HEATMAP_FILE
    write_report(matrix_path, detection_report(facts))
    write_bytes_atomic(heatmap_path, heatmap_png(facts))
    return Calibration(matrix_path, heatmap_path, facts, calibrate_line(facts["summary"]))
