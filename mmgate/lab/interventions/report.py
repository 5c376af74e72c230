"""What ``python -m mmgate intervene`` writes: one strict ``decision_record`` report per (episode,
seed), taken, refused, stopped, rolled back or escalated; the strict ``intervention_summary`` table;
before/after plots per episode. Every report is validated before anything is written."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mmgate.audit.charts import render_curve_plot
from mmgate.lab import timeline
from mmgate.lab.interventions.config import PROHIBITED
from mmgate.lab.interventions.run import (
    HEALTH_SYMMETRY,
    QUICK_EPISODES,
    QUICK_SEEDS,
    QUICK_SPREAD_SEEDS,
    run_interventions,
)
from mmgate.records.atomic import write_bytes_atomic
from mmgate.records.canonical import canonical_json_line
from mmgate.records.hashing import sha256_text
from mmgate.records.reports import report_bytes, strict_report
from mmgate.records.schema_registry import load_schemas

PLOT_MEASURES = ("i2t_top1", "t2i_top1", "top5", "abs_symmetry_gap", "mean_cosine", "effective_rank", "hubness",
                 "rank_divergence", "norm_divergence")


def _finite(value: Any) -> Any:
    """``value`` with non-finite floats as None (strict JSON has no NaN)."""
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, Mapping):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def record_path(rec: Mapping[str, Any]) -> str:
    """Path of one decision record: ``decisions/<episode>_seed<seed>.json``."""
    return f"decisions/{rec['episode']}_seed{rec['seed']}.json"


def _open_items(rec: Mapping[str, Any]) -> list[str]:
    items = []
    outcome = rec["outcome"]
    if outcome in ("escalated", "refused"):
        items.append(f"{rec['episode']} seed {rec['seed']}: not repaired automatically ({outcome}); a reviewer must "
                     "decide (pipeline fix, data validation or a governed retrain)")
    if outcome == "reverted":
        failed = [k for k, v in (rec["checks_after"] or {}).items() if not v["passed"]]
        items.append(f"the action did not pass the stage gates (failed: {failed}, worse: {rec['worse']}); the "
                     "deployment was left untouched and the case escalated")
    if rec["action_details"].get("filter"):
        items.append("pairing sanitation is a diagnostic and mitigation step, not a proof; the join pipeline needs "
                     "validation")
    if rec["fine_tune"] is not None:
        items.append("whether this fine-tuning regime (K, learning rate, stop-rule margins) suits production is not "
                     "established")
    items.append("thresholds and tolerances were fixed on the synthetic lab; larger-scale evidence may revise them")
    return items


def decision_report(rec: Mapping[str, Any], run_id: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """The strict ``decision_record`` report of one case record."""
    rec = _finite(rec)
    ft = rec["fine_tune"]
    facts = {
        "run_id": run_id, "episode": rec["episode"], "seed": rec["seed"], "episode_kind": rec["kind"],
        "truth": rec["truth"], "label": rec["label"], "diagnosis": rec["diagnosis"],
        "decision": rec["decision"], "action": rec["decision"]["action"],
        "action_details": rec["action_details"],
        "policy_config_sha256": rec["policy_config_sha256"], "policy_config": dict(config),
        "contract_sha256": rec["contract_sha256"], "prohibited_actions": list(PROHIBITED),
        "stop_rules": None if ft is None else ft["stop_rules"],
        "stop_rules_fired": [] if ft is None else ft["fired"],
        "fine_tune": ft, "destabilised": rec["destabilised"],
        "before": rec["before"], "after": rec["after"], "checks_before": rec["checks_before"],
        "checks_after": rec["checks_after"], "mechanism_check": rec["mechanism"], "worse": rec["worse"],
        "healthy_baseline": rec["healthy_baseline"], "before_on_changed_inputs": rec["before_on_changed_inputs"],
        "deployed_before": rec["deployed_before"], "deployed_after": rec["deployed_after"],
        "acted": rec["acted"], "restored": rec["restored"], "accepted": rec["accepted"], "outcome": rec["outcome"],
    }
    action = rec["decision"]["action"]
    analysis = (f"{rec['episode']} at seed {rec['seed']}: labelled {rec['label']}; policy {rec['decision']['kind']}"
                f"{' ' + action['name'] if action else ''}; outcome {rec['outcome']}"
                f"{'; restored' if rec['restored'] else ''}{'; stop rule fired: ' + ', '.join(ft['fired']) if ft and ft['fired'] else ''}.")
    return strict_report(
        "decision_record", facts,
        assumptions={"diagnosis": "the drift label and its evidence come from the timeline's classifier, whose rules "
                                  "were fixed on tuning seeds",
                     "acceptance": "post-intervention measurements are judged against Contract() defaults for "
                                   "retrieval, symmetry and health, plus the diagnosed mechanism's own check",
                     "policy": "K, stop rules, evidence levels and tolerances are the intervention config, hashed "
                               "before the run (policy_config_sha256)",
                     "truth": "the episode's truth is reported for evaluation only; the policy never reads it"},
        open_items=_open_items(rec), analysis=analysis,
        draft_output={"outcome": rec["outcome"], "recommendation": {
            "accepted": "keep the intervention; re-run the release gates before deploying it",
            "reverted": "keep the untouched deployment; escalate", "refused": "escalate for review",
            "escalated": "escalate for review", "no_action": "nothing to do"}[rec["outcome"]]},
        questions_to_verify=["Does the diagnosed mechanism match what actually changed in the pipeline?",
                             "Would the same action hold on data beyond the canary and current sets?"])


def summary_report(result: Mapping[str, Any], run_id: str) -> dict[str, Any]:
    """The strict ``intervention_summary`` report: one row per case and the INTERVENE counts."""
    rows = [{"episode": r["episode"], "seed": r["seed"], "episode_kind": r["kind"], "truth": r["truth"],
             "label": r["label"], "decision": r["decision"]["kind"],
             "action": (r["decision"]["action"] or {}).get("name"), "outcome": r["outcome"], "acted": r["acted"],
             "restored": r["restored"], "accepted": r["accepted"], "worse": r["worse"],
             "stop_rules_fired": [] if r["fine_tune"] is None else r["fine_tune"]["fired"],
             "destabilised_rolled_back": None if r["destabilised"] is None
             else r["destabilised"]["stopped_and_rolled_back"], "record": record_path(r)} for r in result["records"]]
    not_repaired = sorted({r["episode"] for r in result["records"] if r["kind"] != "benign" and not r["accepted"]})
    facts = {"run_id": run_id, "seeds": result["seeds"], "policy_config_sha256": result["policy_config_sha256"],
             "policy_config": result["config"], "prohibited_actions": result["prohibited"], "rows": rows,
             "summary": result["summary"], "line": result["line"]}
    return strict_report(
        "intervention_summary", facts,
        assumptions={"episodes": "the drift timeline's episodes on the built-in lab",
                     "acceptance": "Contract() defaults for retrieval, symmetry and health plus the mechanism check"},
        open_items=[f"{name}: not repaired on every seed (see its decision records)" for name in not_repaired],
        analysis=(f"{len(rows)} cases; {result['line']}"),
        draft_output={"intervene_line": result["line"]},
        questions_to_verify=["Do the escalated cases reach a reviewer with their decision records?",
                             "Are the intervention bounds appropriate outside the synthetic lab?"])


def render_plots(result: Mapping[str, Any]) -> dict[str, bytes]:
    """Per episode with an action: before/after of each measure (mean over seeds), as value / threshold."""
    plots = {}
    by_episode: dict[str, list[Mapping[str, Any]]] = {}
    for r in result["records"]:
        if r["after"] is not None:
            by_episode.setdefault(r["episode"], []).append(r)
    for name, recs in by_episode.items():
        series = {}
        for group in ("canary", "current"):
            for when in ("before", "after"):
                ys = [float(np.nanmean([r[when][group][m] for r in recs])) for m in PLOT_MEASURES]
                if all(np.isfinite(ys)):
                    series[f"{group} {when}"] = (list(range(len(PLOT_MEASURES))), ys)
        if series:
            plots[f"{name}.png"] = render_curve_plot(
                f"{name}: before and after the intervention (mean over {len(recs)} seed(s))",
                "measure: " + ", ".join(f"{i}={m}" for i, m in enumerate(PLOT_MEASURES)), series, "value")
    return plots


def write_interventions(result: Mapping[str, Any], out_dir: str | Path) -> list[Path]:
    """Write every decision record, the summary and the plots (reports validated first)."""
    out = Path(out_dir)
    run_id = f"intervene-{sha256_text(canonical_json_line(dict(result['summary'])) + result['policy_config_sha256'] + str(len(result['records'])))[:16]}"
    schemas = load_schemas()
    reports = [(record_path(r), decision_report(r, run_id, result["config"])) for r in result["records"]]
    reports.append(("intervention_summary.json", summary_report(result, run_id)))
    payloads = [(out / name, report_bytes(report, schemas)[1]) for name, report in reports]
    payloads += [(out / "plots" / name, png) for name, png in render_plots(result).items()]
    for path, data in payloads:
        write_bytes_atomic(path, data)
    return [path for path, _ in payloads]


def intervene_main(out_dir: str | Path, seeds: Sequence[int] | None = None, quick: bool = False) -> int:
    """Run, write, print progress and the INTERVENE line last; returns 0."""
    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    if quick:
        from mmgate.drift.episodes import episode
        result = run_interventions(seeds or QUICK_SEEDS, [episode(n) for n in QUICK_EPISODES],
                                   spread_seeds=QUICK_SPREAD_SEEDS, progress=progress)
    else:
        result = run_interventions(seeds or timeline.EVALUATION_SEEDS, progress=progress)
    write_interventions(result, out_dir)
    print(result["line"], flush=True)
    return 0


__all__ = ["HEALTH_SYMMETRY", "decision_report", "intervene_main", "record_path", "render_plots", "summary_report",
           "write_interventions"]
