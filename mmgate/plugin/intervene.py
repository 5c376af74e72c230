"""``pytest --mmgate --mmgate-intervene``: after the decision, the interventions of
``mmgate.lab.interventions.gated`` on the gated subject (training-free, or a hooked limited fine-tune), each re-measured with the gates' own
measurement functions (``RunContext``) and thresholds (the run's contract, hashed before the run and
checked unchanged after), written into the bundle as strict ``decision_record`` reports
(``interventions/decision_record_<n>.json``) and an ``intervention_summary.json``.

Actions apply to a copy of the subject in this process: the gated model is what it is, so the
release decision never changes; the records say what was done and the re-gated result.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from mmgate import panel
from mmgate.gating.decision import Decision
from mmgate.gating.measurements import Measurements
from mmgate.gating.results import Threshold
from mmgate.lab.interventions import gated
from mmgate.lab.interventions.config import DEFAULT_INTERVENTION, PROHIBITED
from mmgate.lab.interventions.hooked import hooked_fine_tune
from mmgate.plugin.context import RunContext
from mmgate.plugin.stash import CONTEXT_KEY
from mmgate.records.reports import strict_report, validate_report
from mmgate.subjects.items import canary_items
from mmgate.subjects.subject import Subject
from mmgate.subjects.trainable import is_trainable

SUMMARY_PATH = "interventions/intervention_summary.json"
CONFIG = DEFAULT_INTERVENTION


@dataclass
class Interventions:
    """What ``--mmgate-intervene`` produced: bundle reports by path, terminal lines, a Markdown section."""

    reports: dict[str, dict[str, Any]] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)

    @property
    def markdown(self) -> str:
        """The summary.md section."""
        if not self.lines:
            return ""
        return "\n## Interventions\n\n" + "\n".join(f"- {line.removeprefix('mmgate: intervene: ')}"
                                                    for line in self.lines) + "\n"


def run(config: pytest.Config, spec: Any, setup: Any, decision: Decision, run_id: str) -> Interventions | None:
    """The interventions of a decided run, or None when not asked for (or the run was not set up)."""
    if not spec.settings.intervene or decision.decision == "SETUP_ERROR":
        return None
    try:
        context: RunContext = config.stash[CONTEXT_KEY]
        if setup.subject is not None:
            context.adopt_subject(setup.subject)
        return _intervene(context, decision, run_id)
    except Exception as exc:  # noqa: BLE001 - the decision and its bundle come first; say why there are no records
        return Interventions(lines=[(f"mmgate: intervene: FAILED: {type(exc).__name__}: {exc}; no decision records "
                                     "were written (the release decision is unaffected)")])


def _check(result: Mapping[str, Any]) -> dict[str, Any]:
    threshold = result["threshold"] or {}
    return {"value": (result["measured"] or {}).get("value"), "op": threshold.get("op", "<="),
            "threshold": threshold.get("value"), "passed": result["status"] == "passed"}


def _regate(context: RunContext, gate: str, subject: Subject, seed: int,
            cases: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The failing cases of ``gate`` at ``seed`` measured again on ``subject``, against the contract."""
    contract = context.spec.contract
    threshold = Threshold(**contract.threshold(gate))
    out = {}
    for case in cases:
        if gate in gated.COLLAPSE_GATES:
            measured = Measurements(context.embed(subject, subject.canary), subject.canary, contract, seed)
            geometry = measured.geometry(case["params"]["modality"])
            value = geometry[gate]
            if gate == "effective_rank":
                floor, _ = contract.effective_rank_floor(geometry["n_items"], geometry["dimension"],
                                                         geometry["relevant_sets"])
                threshold = Threshold(threshold.op, floor, threshold.basis)
        elif gate == "temperature_calibration":
            value = context.temperature_fit(subject, seed, float(subject.encoder.temperature))["log_ratio"]
        elif gate == "input_drift":
            value = context.input_drift(subject, seed, case["params"]["modality"])["max_drift"]
        else:
            value = context.pair_audit(subject, seed)["suspect_fraction"]
        out[case["gate_id"]] = {"value": float(value), "op": threshold.op, "threshold": threshold.value,
                                "passed": threshold.holds(float(value))}
    return out


def _retrieval(context: RunContext, subject: Subject) -> dict[str, float]:
    z = context.embed(subject, subject.canary)
    r = panel.metrics_from_ranks(panel.item_ranks(z.z_img, z.z_txt, canary_items(subject.canary)), ks=(1,))
    return {"i2t_top1": r["i2t_recall@1"], "t2i_top1": r["t2i_recall@1"], "abs_symmetry_gap": abs(r["symmetry_gap@1"])}


def _act(context: RunContext, gate: str, seed: int, cases: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One seed's action and re-measurement: the record's case entry."""
    subject = context.subject(seed)
    entry: dict[str, Any] = {"seed": seed, "before": {c["gate_id"]: _check(c) for c in cases}, "action_details": {},
                             "after": None, "guard": None, "worse": [], "restored": False, "refusal": None}
    new: Subject | None
    if gate == "temperature_calibration":
        fitted = next(c["evidence"]["fitted_temperature"] for c in cases if c["status"] == "failed")
        new, details = gated.recalibrate_temperature(subject, fitted)
    elif gate == "input_drift":
        new, details = gated.renormalise_inputs(subject, CONFIG, seed)
    elif gate in gated.COLLAPSE_GATES:
        new, details = _fine_tuned(context, subject, seed)
    else:
        z = context.embed(subject, subject.training)
        new, details = gated.sanitise_pairs(subject, z.z_img, z.z_txt, CONFIG, seed)
    entry["action_details"] = details
    if new is None:
        entry["refusal"] = details.get("refusal", "refused at run time")
        return entry
    entry["after"] = _regate(context, gate, new, seed, cases)
    if gate == "input_drift" or gate in gated.COLLAPSE_GATES:  # embeddings change: retrieval and symmetry may not get worse
        before, after = _retrieval(context, subject), _retrieval(context, new)
        entry["guard"] = {"before": before, "after": after, "tolerances": {"top1": CONFIG.tol_top1,
                                                                           "gap": CONFIG.tol_gap}}
        entry["worse"] = [k for k in ("i2t_top1", "t2i_top1") if before[k] - after[k] > CONFIG.tol_top1]
        if after["abs_symmetry_gap"] - before["abs_symmetry_gap"] > CONFIG.tol_gap:
            entry["worse"].append("abs_symmetry_gap")
    if gate == "temperature_calibration" and not details["embeddings_unchanged"]:
        entry["worse"].append("embeddings_changed")
    entry["restored"] = all(v["passed"] for v in entry["after"].values()) and not entry["worse"]
    return entry


def _fine_tuned(context: RunContext, subject: Subject, seed: int) -> tuple[Subject | None, dict[str, Any]]:
    """The subject after a hooked limited fine-tune on its training pairs (monitored on the first
    ``monitor_items`` canary rows), with a learning-rate x ``destabilise_lr_factor`` twin that must be
    stopped and rolled back byte-identically; None (refused) when the fine-tune was rolled back to the start."""
    canary, contract = subject.canary, context.spec.contract
    monitor = canary.take(np.arange(min(CONFIG.monitor_items, len(canary))))
    encoder, record = hooked_fine_tune(subject.encoder, subject.training, monitor, contract, CONFIG, seed)
    _, twin = hooked_fine_tune(subject.encoder, subject.training, monitor, contract, CONFIG, seed,
                               lr=CONFIG.lr * CONFIG.destabilise_lr_factor)
    details: dict[str, Any] = {"fine_tune": record, "destabilised_twin": {
        "lr": twin["lr"], "stopped": twin["stopped"], "fired": twin["fired"], "rolled_back": twin["rolled_back"],
        "byte_identical": bool(twin.get("rollback", {}).get("byte_identical", False))}}
    if record["steps_taken"] == 0:
        details["refusal"] = (f"the fine-tune fired {record['fired']} in its first chunk and was rolled back to the "
                              "start: no healthy step was found within the bounds (escalation)")
        return None, details
    return dataclasses.replace(subject, name=f"{subject.name}~fine-tuned", encoder=encoder), details


def _failing(decision: Decision) -> dict[str, list[dict[str, Any]]]:
    by_gate: dict[str, list[dict[str, Any]]] = {}
    for result in decision.results:
        if result.status in ("failed", "error"):
            by_gate.setdefault(result.gate, []).append(result.to_json())
    return by_gate


def _seeds(cases: Sequence[Mapping[str, Any]]) -> list[int]:
    return sorted({int(c["params"].get("seed", 0)) for c in cases})


def _intervene(context: RunContext, decision: Decision, run_id: str) -> Interventions:
    contract_before = context.spec.contract.sha256()
    failing = _failing(decision)
    subject_name = context.subject(0).name if failing else ("mmgate-reference" if context.builtin
                                                            else str(context.spec.settings.subject))
    trainable = bool(failing) and is_trainable(context.subject(0).encoder)
    training = bool(failing) and context.subject(0).training is not None
    out = Interventions()
    rows = []
    for gate, cases in failing.items():
        label, fired, choice = gated.decide_gate(gate, cases, trainable, training)
        entries = []
        if choice.kind == "act":
            for seed in _seeds(cases):
                seed_cases = [c for c in cases if int(c["params"].get("seed", 0)) == seed]
                entries.append(_act(context, gate, seed, seed_cases))
        acted = any(e["after"] is not None for e in entries)
        restored = acted and all(e["restored"] for e in entries)
        outcome = {"escalate": "escalated", "refuse": "refused"}.get(
            choice.kind, "restored" if restored else "not_restored" if acted else "refused")
        n = len(rows) + 1
        path = f"interventions/decision_record_{n}.json"
        facts = {"source": "gated_run", "run_id": run_id, "record": n, "subject": subject_name, "gate": gate,
                 "label": label, "seeds": _seeds(cases),
                 "diagnosis": {"failing_cases": [c["gate_id"] for c in cases], "fired": list(fired),
                               "evidence": {c["gate_id"]: {"status": c["status"], "measured": c["measured"],
                                                           "message": c["message"]} for c in cases}},
                 "decision": choice.to_dict(), "action": choice.to_dict()["action"],
                 "policy_config_sha256": CONFIG.sha256(), "policy_config": CONFIG.to_dict(),
                 "contract_sha256": contract_before, "contract_sha256_after": context.spec.contract.sha256(),
                 "prohibited_actions": list(PROHIBITED), "release_decision": decision.decision,
                 "training_hook": trainable, "cases": entries, "acted": acted, "restored": restored,
                 "outcome": outcome}
        if facts["contract_sha256_after"] != contract_before:
            raise RuntimeError("the contract changed during the interventions; thresholds are fixed before the run")
        report = _record_report(facts)
        validate_report(report)
        out.reports[path] = report
        rows.append({"record": path, "gate": gate, "seeds": facts["seeds"], "label": label, "decision": choice.kind,
                     "action": (facts["action"] or {}).get("name"), "outcome": outcome, "acted": acted,
                     "restored": restored})
        out.lines.append(_line(facts, path))
    counts = {"records": len(rows), "acted": sum(r["acted"] for r in rows),
              "restored": sum(r["restored"] for r in rows),
              "refused": sum(r["outcome"] == "refused" for r in rows),
              "escalated": sum(r["outcome"] == "escalated" for r in rows)}
    line = (f"interventions: records={counts['records']} acted={counts['acted']} restored={counts['restored']} "
            f"refused={counts['refused']} escalated={counts['escalated']}")
    if not rows:
        out.lines.append(f"mmgate: intervene: nothing to do: no gate failed (decision {decision.decision}); "
                         "no action taken")
    else:
        out.lines.append(f"mmgate: intervene: the release decision stays {decision.decision}: interventions act on a "
                         f"copy of the subject, so re-gate the fixed model; records in {SUMMARY_PATH.split('/')[0]}/")
    summary = _summary_report({"source": "gated_run", "run_id": run_id, "subject": subject_name,
                               "release_decision": decision.decision, "release_decision_changed": False,
                               "policy_config_sha256": CONFIG.sha256(), "policy_config": CONFIG.to_dict(),
                               "contract_sha256": contract_before, "prohibited_actions": list(PROHIBITED),
                               "training_hook": trainable, "nothing_to_do": not rows, "rows": rows,
                               "counts": counts, "line": line})
    validate_report(summary)
    out.reports[SUMMARY_PATH] = summary
    return out


def _fmt(check: Mapping[str, Any]) -> str:
    value = check["value"]
    return "n/a" if value is None else f"{value:.3g}"


def _line(facts: Mapping[str, Any], path: str) -> str:
    """One terminal line per record, the answer first."""
    seeds = ",".join(map(str, facts["seeds"]))
    head = f"mmgate: intervene: {facts['outcome'].upper()} {facts['gate']} (seed {seeds})"
    if facts["outcome"] == "escalated":
        return f"{head}: no training-free action; escalated for review [{path}]"
    if facts["outcome"] == "refused":
        decided = facts["decision"]
        reason = next((c["refusal"] for c in facts["cases"] if c["refusal"]), None) or (
            f"its minimum evidence {' and '.join(decided['evidence_required'][0])} is not met (found "
            f"{', '.join(decided['evidence_met']) or 'none'})")
        return f"{head}: {gated.action_of(facts['gate'])[1]} refused: {reason} [{path}]"
    action = facts["action"]["name"]
    changes = []
    for case in facts["cases"]:
        details = case["action_details"]
        if action == "temperature_recalibration":
            changes.append(f"temperature {details['temperature_before']:.3g} -> {details['temperature_after']:.3g}")
        elif action == "pairing_sanitation":
            changes.append(f"{details['kept']} training pairs kept, {details['flagged']} flagged")
        elif action == "limited_fine_tune":
            tune, twin = details["fine_tune"], details["destabilised_twin"]
            changes.append(f"{tune['steps_taken']}/{tune['steps_requested']} steps"
                           + (f", stopped by {', '.join(tune['fired'])} and rolled back" if tune["stopped"] else "")
                           + f"; lr x {CONFIG.destabilise_lr_factor:g} twin "
                           + ("stopped and rolled back byte-identically" if twin["byte_identical"] else "NOT rolled back"))
        elif "gain" in details:
            changes.append("image constants restored (gain " + ", ".join(f"{g:.3g}" for g in details["gain"]) + ")")
        for gate_id, after in (case["after"] or {}).items():
            before = case["before"][gate_id]
            changes.append(f"re-gated {_fmt(before)} -> {_fmt(after)} {after['op']} {after['threshold']:.3g} "
                           f"{'passed' if after['passed'] else 'failed'}")
        if case["worse"]:
            changes.append("worse: " + ", ".join(case["worse"]))
    return f"{head}: {action}: {'; '.join(changes)} [{path}]"


def _record_report(facts: Mapping[str, Any]) -> dict[str, Any]:
    acted = facts["acted"]
    return strict_report(
        "decision_record", facts,
        assumptions={"diagnosis": "the failing gates of this run and their evidence are the diagnosis; a gate with "
                                  "no training-free action has a cause unknown to this policy",
                     "scope": "the action was applied to a copy of the subject in the gating process; the gated "
                              "model and the release decision are unchanged",
                     "thresholds": "re-gating used the run's contract, whose sha256 is the same before and after"},
        open_items=([f"{facts['gate']}: re-gate the model with the fix in its pipeline before release"] if acted else
                    [f"{facts['gate']}: not repaired automatically ({facts['outcome']}); a reviewer must decide"]),
        analysis=f"{facts['gate']} at seed(s) {facts['seeds']}: {facts['decision']['kind']}; outcome {facts['outcome']}.",
        draft_output={"outcome": facts["outcome"], "release_decision_changed": False},
        questions_to_verify=["Does the failing gate's evidence describe what actually changed in the pipeline?",
                             "Would the fix hold on data beyond the canary?"])


def _summary_report(facts: Mapping[str, Any]) -> dict[str, Any]:
    return strict_report(
        "intervention_summary", facts,
        assumptions={"scope": "training-free actions (temperature recalibration, input renormalisation, pairing "
                              "sanitation) and, for a subject with a training hook, a limited fine-tune (K steps, "
                              "stop rules, rollback) on its declared training pairs"},
        open_items=[f"{r['gate']}: {r['outcome']}" for r in facts["rows"] if not r["restored"]],
        analysis=facts["line"], draft_output={"line": facts["line"]},
        questions_to_verify=["Has a reviewer read the escalated and refused records?"])


__all__ = ["SUMMARY_PATH", "Interventions", "run"]
