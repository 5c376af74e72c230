"""Realistic facts of every report kind (as GATE_MODEL.md specifies) and a small finished bundle."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from mmgate.audit.bundle import Bundle, BundleWriter, safe_file_stem
from mmgate.audit.environment import environment_fingerprint
from mmgate.audit.redact import config_log_record
from mmgate.records.reports import strict_report
from mmgate.records.schema_registry import SchemaSet

RUN_ID = "mmgate-20260217T134016Z-19b2e27a"
CONTRACT_SHA = "a" * 64
CONFIG_SHA = "b" * 64
SUBJECT = {"name": "reference-aligner", "identity": {"weights_sha256": "c" * 64, "version": "0.1.0"}}

GATE_RESULT: dict[str, Any] = {
    "gate_id": "gates/test_acceptance.py::test_retrieval_top1[seed0-image_to_text]",
    "gate": "retrieval_top1",
    "family": "acceptance",
    "params": {"seed": 0, "direction": "image_to_text", "k": 1, "bootstrap": True, "alpha": 0.05},
    "status": "passed",
    "required": True,
    "measured": {"value": 0.71, "ci_low": 0.66, "ci_high": 0.76},
    "threshold": {"op": ">=", "value": 0.55, "basis": "point"},
    "message": "i2t top-1 0.71 >= 0.55: the model retrieves the paired caption first for most images",
    "reason": None,
    "evidence": {"n_queries": 256, "ranks_histogram": [182, 30, 12], "note": "bootstrap over queries"},
}
MISSING_GATE: dict[str, Any] = {
    **GATE_RESULT,
    "gate_id": "gates/test_drift.py::test_drift_budget[noise]",
    "gate": "drift_budget",
    "family": "drift",
    "params": {},
    "status": "missing",
    "measured": None,
    "threshold": None,
    "message": "no result recorded",
    "reason": "worker crashed",
    "evidence": {},
}

FACTS: dict[str, dict[str, Any]] = {
    "release_decision": {
        "run_id": RUN_ID,
        "decision": "APPROVE",
        "exit_code": 0,
        "failed_gates": [],
        "inconclusive_gates": [],
        "pairs_to_decide": None,
        "errored_gates": [],
        "missing_gates": [],
        "not_applicable_gates": ["gates/test_probe.py::test_factor_probe[none]"],
        "passed_gates": [GATE_RESULT["gate_id"]],
        "contract_sha256": CONTRACT_SHA,
        "subject": SUBJECT,
        "counts": {"passed": 1, "not_applicable": 1, "failed": 0},
    },
    "acceptance": {"run_id": RUN_ID, "contract_sha256": CONTRACT_SHA, "gates": [GATE_RESULT, MISSING_GATE]},
    "gate_evidence": {"run_id": RUN_ID, "result": GATE_RESULT},
    "risk_log": {
        "run_id": RUN_ID,
        "risks": [
            {
                "risk": "representation_collapse",
                "description": "Embeddings lose diversity while the loss still decreases.",
                "controls": [
                    {"control": "variance floor and mean cosine ceiling", "gates": ["variance_floor", "mean_cosine"]},
                    {"control": "effective rank monitoring", "gates": []},
                ],
            }
        ],
    },
    "run_manifest": {
        "run_id": RUN_ID,
        "started_utc": "2026-02-17T13:40:16.185419+00:00",
        "finished_utc": "2026-02-17T13:40:29Z",
        "contract_sha256": CONTRACT_SHA,
        "config_sha256": CONFIG_SHA,
        "subject": SUBJECT,
        "environment": environment_fingerprint(),
        "git_commit": None,
        "baselines": {"compared": None, "recorded": None},
        "artifacts": [
            {
                "path": "acceptance.json",
                "sha256": "d" * 64,
                "bytes": 1234,
                "schema_id": "urn:mmgate:schema:acceptance:1.0.0",
            },
            {"path": "plots/retrieval.png", "sha256": "e" * 64, "bytes": 99, "schema_id": None},
        ],
    },
    "detection_matrix": {
        "run_id": "calibrate-20260217T134016Z-19b2e27a",
        "created_utc": "2026-02-17T13:40:16Z",
        "gate_names": ["retrieval_top1", "mean_cosine", "corruption_slope"],
        "family_gates": {"collapse": ["mean_cosine"], "pairing_corruption": ["corruption_slope"],
                         "scoring_drift": []},
        "rows": [
            {"condition": "healthy", "family": "healthy", "injected": False,
             "description": "the embedded default", "seeds": 5, "decision": "APPROVE", "exit_code": 0,
             "gates_fired": [], "fired_families": [], "detected_by_own_family": False,
             "fired_fraction": {"retrieval_top1": 0.0, "mean_cosine": 0.0}, "bundle": "runs/mmgate-a",
             "run_error": None, "wall_s": 31.2},
            {"condition": "collapse_low_temperature", "family": "collapse", "injected": True,
             "description": "InfoNCE temperature 0.01", "seeds": 4, "decision": "REJECT", "exit_code": 10,
             "gates_fired": ["mean_cosine"], "fired_families": ["collapse"], "detected_by_own_family": True,
             "fired_fraction": {"retrieval_top1": 0.0, "mean_cosine": 1.0}, "bundle": "runs/mmgate-b",
             "run_error": None, "wall_s": 28.9},
        ],
        "healthy_seeds": [{"condition": "healthy", "seed": 0, "decision": "APPROVE", "gates_fired": []}],
        "summary": {"injected": 1, "rejected_injected": 1, "detected_by_own_family": 1, "healthy_seeds": 1,
                    "healthy_approved": 1},
    },
    "drift_baseline": {
        "run_id": RUN_ID,
        "created_utc": "2026-02-17T13:40:16Z",
        "content_sha256": "f" * 64,
        "baseline": {
            "subject_name": "mmgate-reference",
            "dimension": 2,
            "contract_sha256": CONTRACT_SHA,
            "seeds": [{
                "seed": 0,
                "subject": {"name": "mmgate-reference", "identity": {"name": "reference-aligner"}},
                "dimension": 2,
                "canary": {"name": "synthetic-test", "pairs": 256, "fingerprint": "a" * 64},
                "metrics": {"retrieval_top1_i2t": {"value": 0.8, "ci": [0.75, 0.85]},
                            "mean_cosine_image": {"value": 0.01, "ci": None}},
                "inputs": {"image": {"profile": {"modality": "vision"}},
                           "text": {"unavailable": "texts are not token arrays"}},
                "outputs": {"modality": "output"},
                "embeddings": {"rows": [0, 5], "image": [[1.0, 0.0], [0.0, 1.0]],
                               "text": [[0.6, 0.8], [0.8, 0.6]]},
            }],
        },
    },
    "hash_ledger": {
        "run_id": RUN_ID,
        "algorithm": "sha256",
        "files": [{"path": "acceptance.json", "sha256": "d" * 64, "bytes": 1234}],
    },
}

_RULES_SHA = "4430abbd9177c0618e6d294b712e1ef7150c0003ef8aecbee5a3a2e2e3b259d2"
_SNAPSHOT = {"canary": {"top1": 0.62, "mean_cos_max": 0.21}, "current": {"top1": 0.55, "mean_cos_max": 0.22},
             "compare": {"input_drift_img": 0.34, "canary_shift_max": 0.0}}
_EVIDENCE = [
    {"label": "benign", "score": 0.5, "fired": ["no_text_input_drift"],
     "readings": {"no_image_input_drift": 0.34, "no_text_input_drift": 0.0}, "minimum_met": False,
     "failed_rules": ["no_image_input_drift and no_text_input_drift"]},
    {"label": "modality_drift", "score": 12.5, "fired": ["image_input_drift", "text_input_quiet"],
     "readings": {"image_input_drift": 0.34, "text_input_quiet": 0.0}, "minimum_met": True, "failed_rules": []},
]
_EPISODE = {"name": "image_noise_ramp", "truth": ["modality_drift"], "kind": "single_axis",
            "description": "deployed pixel noise ramps from 0.15 to 1.0", "eval_world_changes": {"noise_image": 1.0},
            "eval_world_sha256": "1" * 64, "temperature_scale": 1.0, "retrain": None, "index": 1}
_DRIFT_REJECT = {"decision": "REJECT", "escalate": False,
                 "reason": "modality_drift met its minimum evidence (score 12.50, margin 12.50)"}

FACTS["drift_timeline"] = {
    "run_id": "timeline-0123456789abcdef",
    "seeds": {"evaluation": [0], "tuning": [100, 101], "spread": [100, 101]},
    "episodes": [{**_EPISODE, "name": "baseline", "truth": ["benign"], "kind": "benign",
                  "description": "the healthy baseline", "eval_world_changes": {}, "index": 0}, _EPISODE],
    "spread": {"seeds": [100, 101], "mean": {"current.top1": 0.6}, "std": {"current.top1": 0.01},
               "scale": {"current.top1": 0.01}, "floors": {"current.top1": 0.004}},
    "classifier": {"cap": 3.0, "sha256": _RULES_SHA, "rules": [{
        "label": "modality_drift", "minimum": [["image_input_drift"]], "minimum_text": "image inputs drifted",
        "terms": [{"name": "image_input_drift", "feature": "compare.input_drift_img", "view": "value",
                   "direction": "rise", "threshold": 0.25, "weight": 4.0, "negated": False,
                   "meaning": "the current images' input profile drifted past the alert level"}]}]},
    "baselines": {"0": _SNAPSHOT},
    "records": [{"episode": "image_noise_ramp", "seed": 0, "kind": "single_axis", "truth": ["modality_drift"],
                 "snapshot": _SNAPSHOT,
                 "classification": {"label": "modality_drift", "score": 12.5, "margin": 12.5,
                                    "met": ["modality_drift"], "confident": True, "evidence": _EVIDENCE,
                                    "rules_sha256": _RULES_SHA},
                 "decision": _DRIFT_REJECT, "predicted": "modality_drift", "correct": True,
                 "confident_wrong": False}],
    "truth_vs_prediction": [{"episode": "image_noise_ramp", "seed": 0, "truth": ["modality_drift"],
                             "predicted": "modality_drift", "correct": True, "decision": "REJECT"}],
    "confusion": {"rows": ["modality_drift"], "columns": ["benign", "modality_drift", "unknown"],
                  "counts": {"modality_drift": {"benign": 0, "modality_drift": 1, "unknown": 0}}},
    "stability": {"image_noise_ramp": {"labels": ["modality_drift"], "counts": {"modality_drift": 1},
                                       "modal": "modality_drift", "agreement": 1.0}},
    "summary": {"single_axis_correct": 1, "single_axis_total": 1, "mixed_confident_wrong": 0, "mixed_total": 0,
                "mixed_unknown": 0, "benign_correct": 0, "benign_total": 0},
    "line": "TIMELINE single_axis_correct=1/1 mixed_confident_wrong=0 benign_correct=0/0",
    "debug": [{"episode": "mystery_drift", "seed": 0, "path": "debug/mystery_drift_seed0.json"}],
}
FACTS["drift_debug"] = {
    "run_id": "timeline-0123456789abcdef",
    "episode": "mystery_drift",
    "seed": 0,
    "label": "unknown",
    "decision": {"decision": "REJECT", "escalate": True,
                 "reason": "unattributed drift: no class met its minimum evidence; rejected and escalated"},
    "rules_sha256": _RULES_SHA,
    "scores": {"benign": 3.0, "collapse": 1.2},
    "failed_rules": {"benign": ["no_canary_degraded"], "collapse": ["cosine_rise and rank_drop"]},
    "fired_terms": {"benign": ["no_cosine_rise"], "collapse": ["hubness_rise"]},
    "features": {"baseline": {"canary.top1": 0.6}, "current": {"canary.top1": 0.3}, "raw": {"canary.top1": -0.3},
                 "normalised": {"canary.top1": -30.0}},
}

_MEASURES = {"canary": {"i2t_top1": 0.8, "mean_cosine": 0.01}, "current": {"i2t_top1": 0.8, "mean_cosine": 0.01}}
_CHECKS = {"canary.i2t_top1": {"value": 0.8, "op": ">=", "threshold": 0.55, "passed": True}}
FACTS["decision_record"] = {
    "run_id": "intervene-0123456789abcdef",
    "episode": "scoring_temperature",
    "seed": 0,
    "episode_kind": "single_axis",
    "truth": ["scoring_drift"],
    "label": "scoring_drift",
    "diagnosis": {"label": "scoring_drift", "score": 12.0, "margin": 12.0,
                  "fired": {"scoring_drift": ["temperature_shift", "embeddings_unchanged"]},
                  "readings": {"temperature_shift": 160.0}, "failed_checks": [], "rules_sha256": _RULES_SHA},
    "decision": {"kind": "act", "reason": "scoring_drift: the temperature moved while the embeddings did not",
                 "action": {"name": "temperature_recalibration", "params": {}, "steps": 0},
                 "evidence_required": [["temperature_shift", "embeddings_unchanged"]],
                 "evidence_met": ["temperature_shift", "embeddings_unchanged"]},
    "action": {"name": "temperature_recalibration", "params": {}, "steps": 0},
    "action_details": {"factor": 0.2},
    "policy_config_sha256": "d" * 64,
    "policy_config": {"max_steps": 150, "fine_tune_steps": 120},
    "contract_sha256": CONTRACT_SHA,
    "prohibited_actions": ["full_retraining"],
    "stop_rules": None,
    "stop_rules_fired": [],
    "fine_tune": None,
    "destabilised": None,
    "before": _MEASURES,
    "after": _MEASURES,
    "checks_before": _CHECKS,
    "checks_after": _CHECKS,
    "mechanism_check": None,
    "worse": [],
    "healthy_baseline": _MEASURES,
    "before_on_changed_inputs": None,
    "deployed_before": {"weights_sha256": "c" * 64, "temperature": 0.5},
    "deployed_after": {"weights_sha256": "c" * 64, "temperature": 0.1},
    "acted": True,
    "restored": True,
    "accepted": True,
    "outcome": "accepted",
}
FACTS["intervention_summary"] = {
    "run_id": "intervene-0123456789abcdef",
    "seeds": {"evaluation": [0], "spread": [100, 101, 102]},
    "policy_config_sha256": "d" * 64,
    "policy_config": {"max_steps": 150},
    "prohibited_actions": ["full_retraining"],
    "rows": [{"episode": "scoring_temperature", "seed": 0, "label": "scoring_drift", "decision": "act",
              "action": "temperature_recalibration", "outcome": "accepted", "acted": True, "restored": True,
              "accepted": True, "worse": [], "record": "decisions/scoring_temperature_seed0.json"}],
    "summary": {"restored": 1, "acted": 1, "harmful_accepted": 0, "rolled_back": 0, "destabilised": 0,
                "benign_untouched": 0, "benign_total": 0},
    "line": "INTERVENE restored=1/1 harmful_accepted=0 rolled_back=0/0 benign_untouched=0/0",
}

ENVELOPE: dict[str, Any] = {
    "assumptions": {"scope": "synthetic world; proxies approximate deployment"},
    "open_items": ["transfer to large pretrained encoders"],
    "analysis": "All required gates passed under the pre-specified contract.",
    "draft_output": {"recommendation": "release"},
    "questions_to_verify": ["Do the canary pairs cover the deployment domain?"],
}

CONFIG_TEXT = '[tool.mmgate]\ntop1_min = 0.55\napi_key = "sk-live-123"\n'


def sample_report(kind: str) -> dict[str, Any]:
    """A fresh, valid report of ``kind``."""
    return strict_report(kind, copy.deepcopy(FACTS[kind]), **copy.deepcopy(ENVELOPE))


def build_bundle(out_dir: Path, schemas: SchemaSet | None = None) -> Bundle:
    """A complete small bundle: every report kind, a config log, a plot, HTML and Markdown."""
    writer = BundleWriter(out_dir, RUN_ID, schemas=schemas)
    for kind in ("release_decision", "acceptance", "risk_log"):
        writer.write_report(f"{kind}.json", sample_report(kind))
    for gate in (GATE_RESULT, MISSING_GATE):
        evidence = sample_report("gate_evidence")
        evidence["facts_provided"]["result"] = copy.deepcopy(gate)
        writer.write_report(f"evidence/{safe_file_stem(gate['gate_id'])}.json", evidence)
    record = config_log_record("pyproject.toml", CONFIG_TEXT, recorded_utc="2026-02-17T13:40:16Z")
    writer.write_records("config_log.jsonl", "config_log_record", [record, record])
    writer.write_bytes("plots/retrieval.png", b"\x89PNG\r\n\x1a\nnot-really-a-png")
    writer.write_text("report.html", "<!doctype html><title>mmgate</title>")
    writer.write_text("summary.md", "# mmgate\nAPPROVE\n")
    manifest = {key: value for key, value in FACTS["run_manifest"].items() if key != "artifacts"}
    return writer.finalize(manifest, **copy.deepcopy(ENVELOPE))
