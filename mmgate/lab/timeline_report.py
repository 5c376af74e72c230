"""What the drift timeline writes: the strict ``drift_timeline`` report, one ``drift_debug`` report
per unknown label, trend and confusion plots, and the command-line entry that runs and writes it."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mmgate.audit.charts import render_curve_plot, render_heatmap
from mmgate.drift.classifier import (
    LABELS,
    UNKNOWN,
)
from mmgate.lab.timeline import EVALUATION_SEEDS, run_timeline
from mmgate.records.atomic import write_bytes_atomic
from mmgate.records.canonical import canonical_json_line
from mmgate.records.hashing import sha256_text
from mmgate.records.reports import report_bytes, strict_report
from mmgate.records.schema_registry import load_schemas

TREND_PLOTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("trend_retrieval.png", "top-1 (mean of both directions)", ("canary.top1", "current.top1")),
    ("trend_geometry_cosine.png", "mean cosine (max over modalities)", ("canary.mean_cos_max", "current.mean_cos_max")),
    ("trend_effective_rank.png", "effective rank (min over modalities)", ("canary.eff_rank_min", "current.eff_rank_min")),
    ("trend_input_drift.png", "input-profile drift score", ("compare.input_drift_img", "compare.input_drift_txt")),
    ("trend_embedding_drift.png", "domain-classifier advantage",
     ("compare.embedding_drift_img", "compare.embedding_drift_txt")),
    ("trend_probes.png", "probe value", ("compare.marker_reliance", "compare.pair_audit_suspect",
                                         "canary.log_temperature_ratio")),
)



def _trend_series(result: Mapping[str, Any], features: Sequence[str]) -> dict[str, tuple[list[float], list[float]]]:
    """Mean over seeds of each feature per episode index (0 = baseline)."""
    names = [e["name"] for e in result["episodes"]]
    series = {}
    for feature in features:
        group, metric = feature.split(".", 1)
        xs = [0.0]
        ys = [float(np.mean([snap[group][metric] for snap in result["baselines"].values()]))]
        for index, name in enumerate(names[1:], start=1):
            values = [r["snapshot"][group][metric] for r in result["records"] if r["episode"] == name]
            xs.append(float(index))
            ys.append(float(np.mean(values)))
        series[feature] = (xs, ys)
    return series


def render_plots(result: Mapping[str, Any]) -> dict[str, bytes]:
    """PNG bytes of the trend plots across episodes (x = episode index) and the confusion heat map."""
    plots = {name: render_curve_plot(f"{title} across episodes (mean over seeds)", "episode index (0 = baseline)",
                                     _trend_series(result, features), title)
             for name, title, features in TREND_PLOTS}
    conf = result["confusion"]
    grid = np.array([[conf["counts"][row][col] for col in conf["columns"]] for row in conf["rows"]], dtype=float)
    grid = grid / np.maximum(grid.sum(axis=1, keepdims=True), 1.0)
    plots["confusion.png"] = render_heatmap("drift classifier: truth (rows) vs prediction", conf["rows"],
                                            conf["columns"], grid, "share of the row's runs")
    return plots


def timeline_run_id(result: Mapping[str, Any]) -> str:
    """Run id of a timeline result, derived from its content (the run is deterministic, so the same
    seeds and episodes give the same id): ``timeline-`` plus 16 hex digits of its sha256."""
    return f"timeline-{sha256_text(canonical_json_line(dict(result)))[:16]}"


def debug_path(item: Mapping[str, Any]) -> str:
    """Bundle-relative path of one debug artifact: ``debug/<episode>_seed<seed>.json``."""
    return f"debug/{item['episode']}_seed{item['seed']}.json"


def _timeline_open_items(records: Sequence[Mapping[str, Any]]) -> list[str]:
    items = []
    for r in records:
        truth = "+".join(r["truth"])
        if r["predicted"] == UNKNOWN:
            items.append(f"{r['episode']} seed {r['seed']}: unattributed drift (injected: {truth}); rejected and "
                         f"escalated for review, see {debug_path(r)}")
        elif not r["correct"]:
            items.append(f"{r['episode']} seed {r['seed']}: labelled {r['predicted']} but the injected mechanism "
                         f"is {truth}")
    items.append("the thresholds were fixed on the synthetic world's tuning seeds; how they transfer to other "
                 "subjects and data is not established")
    return items


def _timeline_analysis(result: Mapping[str, Any]) -> str:
    counts, records = result["summary"], result["records"]
    decisions = Counter(r["decision"]["decision"] for r in records)
    unknown = sum(r["predicted"] == UNKNOWN for r in records)
    wrong = sum(r["confident_wrong"] for r in records)
    return (f"{len(records)} runs ({len(result['episodes']) - 1} episodes x {len(result['seeds']['evaluation'])} "
            f"evaluation seeds), each against its seed's healthy baseline. Single-axis episodes: "
            f"{counts['single_axis_correct']}/{counts['single_axis_total']} labelled with their injected class. "
            f"Mixed episodes: {counts['mixed_unknown']}/{counts['mixed_total']} unknown, "
            f"{counts['mixed_confident_wrong']} confidently wrong. Benign episodes: "
            f"{counts['benign_correct']}/{counts['benign_total']} labelled benign. Overall {unknown} unknown "
            f"label(s), each rejected, escalated and given a debug artifact, and {wrong} wrong label(s) (a class "
            f"named that was not injected). Decisions: {decisions['APPROVE']} APPROVE, {decisions['REJECT']} REJECT.")


def timeline_report(result: Mapping[str, Any], run_id: str) -> dict[str, Any]:
    """The strict ``drift_timeline`` report of a ``run_timeline`` result. To keep it small, records drop
    their feature vectors (exactly recomputable from snapshots, baselines and spread) and debug
    artifacts are referenced by path (``debug_path``), not embedded."""
    records = result["records"]
    facts = {
        "run_id": run_id,
        "seeds": {k: list(result["seeds"][k]) for k in ("evaluation", "tuning", "spread")},
        **{k: result[k] for k in ("episodes", "spread", "classifier", "baselines", "truth_vs_prediction", "confusion",
                                  "stability", "summary", "line")},
        "records": [{k: v for k, v in r.items() if k != "features"} for r in records],
        "debug": [{"episode": d["episode"], "seed": d["seed"], "path": debug_path(d)} for d in result["debug"]],
    }
    return strict_report(
        "drift_timeline", facts,
        assumptions={
            "seeds": result["seeds"]["note"],
            "truth": "each episode's truth is the mechanism injected into the synthetic world "
                     "(mmgate.drift.episodes); the classifier never reads it",
            "sets": "the canary is the baseline world's test split; the current set is the validation split of "
                    "the episode's evaluation world",
            "normalisation": "normalised deltas divide by the healthy baseline's standard deviation over the "
                             "spread seeds, floored per metric",
            "features": "records omit the feature vector to keep the report small; it is exact to recompute: raw "
                        "= snapshot - baselines[seed] per group.metric, normalised = raw / spread.scale",
            "decision_rule": "benign -> APPROVE; a failure class -> REJECT; unknown -> REJECT with escalation",
        },
        open_items=_timeline_open_items(records),
        analysis=_timeline_analysis(result),
        draft_output={"timeline_line": result["line"],
                      "decisions": dict(Counter(r["decision"]["decision"] for r in records)),
                      "escalated": sum(r["decision"]["escalate"] for r in records)},
        questions_to_verify=["Do the episodes cover the drifts the deployment will actually see?",
                             "Do the labels stay stable on seeds beyond the evaluation seeds?",
                             "Would a reviewer attribute each escalated unknown to a known mechanism?"],
    )


def debug_report(item: Mapping[str, Any], run_id: str) -> dict[str, Any]:
    """The strict ``drift_debug`` report of one ``debug_artifact``."""
    facts = {k: v for k, v in item.items() if k not in ("open_items", "questions_to_verify")}
    met = sum(not rules for rules in item["failed_rules"].values())
    best = min(item["scores"].items(), key=lambda kv: (-kv[1], LABELS.index(kv[0])))
    decision = item["decision"]
    analysis = (f"{item['episode']} at seed {item['seed']} was labelled {item['label']}: {met} of "
                f"{len(item['scores'])} classes met their minimum evidence; the highest score was {best[0]} "
                f"({best[1]:.2f}). Decision {decision['decision']}"
                f"{', escalated for review' if decision['escalate'] else ''}.")
    return strict_report(
        "drift_debug", {"run_id": run_id, **facts},
        assumptions={"rules": f"the classifier's rules were fixed on the tuning seeds (sha256 "
                              f"{item['rules_sha256']})",
                     "normalisation": "normalised deltas divide by the healthy baseline's floored spread over "
                                      "seed repeats"},
        open_items=list(item["open_items"]), analysis=analysis, draft_output=dict(decision),
        questions_to_verify=list(item["questions_to_verify"]),
    )


def write_timeline(result: Mapping[str, Any], out_dir: str | Path) -> list[Path]:
    """Write timeline.json (a strict ``drift_timeline`` report), the trend and confusion plots and one
    strict ``drift_debug`` report per unknown label; every report is validated before anything is
    written, each file atomically; returns the paths written."""
    out = Path(out_dir)
    run_id = timeline_run_id(result)
    schemas = load_schemas()
    reports = [("timeline.json", timeline_report(result, run_id))]
    reports += [(debug_path(item), debug_report(item, run_id)) for item in result["debug"]]
    payloads = [(out / name, report_bytes(report, schemas)[1]) for name, report in reports]
    payloads += [(out / "plots" / name, png) for name, png in render_plots(result).items()]
    for path, data in payloads:
        write_bytes_atomic(path, data)
    return [path for path, _ in payloads]


def timeline_main(out_dir: str | Path, seeds: Sequence[int] = EVALUATION_SEEDS) -> int:
    """Run the timeline, write it under ``out_dir``, print progress and the TIMELINE line last;
    returns 0 (the counts are the result, not a pass/fail)."""
    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    result = run_timeline(seeds, progress=progress)
    write_timeline(result, out_dir)
    print(result["line"], flush=True)
    return 0
