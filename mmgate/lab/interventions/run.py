"""Interventions over the drift timeline (``python -m mmgate intervene``): every episode at every
evaluation seed is diagnosed exactly as the timeline does (``mmgate.lab.timeline.assess``), the
bounded policy decides, the action runs on the built-in lab, and the deployment is re-measured on
the canary and the current set against the built-in acceptance thresholds (``Contract()``
defaults: retrieval, symmetry, health) plus the diagnosed mechanism's own check. An action is
accepted only when every check passes and no health or symmetry measure got worse (beyond the
configured tolerance); otherwise it is reverted to the untouched deployment and escalated. Every
fine-tune also runs a destabilised twin (learning rate x ``destabilise_lr_factor``) that the stop
rules must stop and roll back byte-identically.
"""

from __future__ import annotations

import dataclasses
import math
import tempfile
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from mmgate import panel
from mmgate.drift.episodes import EPISODES, Episode
from mmgate.drift.features import input_drift
from mmgate.gating.contract import Contract
from mmgate.lab import timeline
from mmgate.lab.interventions import actions
from mmgate.lab.interventions.actions import Deployment
from mmgate.lab.interventions.config import (
    DEFAULT_INTERVENTION,
    PROHIBITED,
    InterventionConfig,
)
from mmgate.lab.interventions.policy import Decision, Diagnosis, select_action
from mmgate.panel.pair_audit import audit_pairs
from mmgate.panel.temperature import fit_temperature
from mmgate.world import DEFAULT_WORLD

QUICK_EPISODES = ("smooth_benign_drift", "scoring_temperature", "preprocessing_scale", "collapse_fine_tune")
QUICK_SEEDS = (0,)
QUICK_SPREAD_SEEDS = (100, 101, 102)
# measure -> (direction in which it is worse, config tolerance field)
HEALTH_SYMMETRY: Mapping[str, tuple[str, str]] = {
    "i2t_top1": ("fall", "tol_top1"), "t2i_top1": ("fall", "tol_top1"),
    "abs_symmetry_gap": ("rise", "tol_gap"), "mean_cosine": ("rise", "tol_cosine"),
    "variance_floor": ("fall", "tol_variance"), "effective_rank": ("fall", "tol_rank"),
    "hubness": ("rise", "tol_hubness"), "rank_divergence": ("rise", "tol_rank_divergence"),
    "norm_divergence": ("rise", "tol_norm_divergence"),
}


def set_measures(dep: Deployment, images: np.ndarray, tokens: np.ndarray, seed: int) -> dict[str, float]:
    """Retrieval, symmetry and health measures of one paired set under a deployment (as the gates
    measure them: norm divergence is |cv_image - cv_text|, hubness the top-1 concentration at k=10)."""
    zi, zt = dep.embed_images(images), dep.embed_texts(tokens)
    if not (np.all(np.isfinite(zi)) and np.all(np.isfinite(zt))):
        return {k: math.nan for k in (*HEALTH_SYMMETRY, "top5", "temperature_log_ratio")}
    r = panel.retrieval_metrics(zi, zt, ks=(1, 5))
    hub = panel.hubness(zi, zt, k=10)
    return {"i2t_top1": r["i2t_recall@1"], "t2i_top1": r["t2i_recall@1"],
            "top5": min(r["i2t_recall@5"], r["t2i_recall@5"]), "abs_symmetry_gap": abs(r["symmetry_gap@1"]),
            "mean_cosine": max(panel.mean_cosine(zi), panel.mean_cosine(zt)),
            "variance_floor": min(panel.coordinate_variance(zi)["p5"], panel.coordinate_variance(zt)["p5"]),
            "effective_rank": min(panel.effective_rank(zi), panel.effective_rank(zt)),
            "hubness": max(hub["i2t_top1_concentration"], hub["t2i_top1_concentration"]),
            "rank_divergence": panel.rank_divergence(zi, zt),
            "norm_divergence": abs(panel.norm_divergence(zi, zt)["cv_diff"]),
            "temperature_log_ratio": abs(fit_temperature(zi, zt, dep.temperature, seed=seed)["log_ratio"])}


def acceptance_checks(measures: Mapping[str, Mapping[str, float]], contract: Contract) -> dict[str, dict[str, Any]]:
    """Every (set, measure) judged against the contract's default threshold."""
    bounds = {"i2t_top1": (">=", contract.min_retrieval_top1), "t2i_top1": (">=", contract.min_retrieval_top1),
              "top5": (">=", contract.min_retrieval_top5), "abs_symmetry_gap": ("<=", contract.max_symmetry_gap),
              "mean_cosine": ("<=", contract.max_mean_cosine), "variance_floor": (">=", contract.min_variance_floor),
              "effective_rank": (">=", contract.min_effective_rank),
              "hubness": ("<=", contract.max_hubness_concentration),
              "rank_divergence": ("<=", contract.max_rank_divergence),
              "norm_divergence": ("<=", contract.max_norm_divergence),
              "temperature_log_ratio": ("<=", contract.max_temperature_log_ratio)}
    out = {}
    for group in ("canary", "current"):
        for name, (op, limit) in bounds.items():
            if limit is None:
                continue
            value = measures[group][name]
            ok = math.isfinite(value) and (value >= limit if op == ">=" else value <= limit)
            out[f"{group}.{name}"] = {"value": value, "op": op, "threshold": limit, "passed": bool(ok)}
    return out


def worse(before: Mapping[str, Mapping[str, float]], after: Mapping[str, Mapping[str, float]],
          config: InterventionConfig, healthy: Mapping[str, Mapping[str, float]] | None = None) -> list[str]:
    """The health and symmetry measures that got worse by more than their tolerance: worse than before
    and, when ``healthy`` (the healthy baseline on the same sets) is given, also worse than the healthy
    model (a corrupted model's inflated effective rank falling back to the healthy level is not harm)."""
    out = []
    for group in ("canary", "current"):
        for name, (direction, tol) in HEALTH_SYMMETRY.items():
            a = after[group][name]
            if not math.isfinite(a):
                out.append(f"{group}.{name}")
                continue
            refs = [before[group][name]] + ([healthy[group][name]] if healthy is not None else [])
            # worse than every reference: the best reference in the bad direction bounds it
            ref = max(refs) if direction == "rise" else min(refs)
            delta = (a - ref) if direction == "rise" else (ref - a)
            if delta > getattr(config, tol):
                out.append(f"{group}.{name}")
    return out


class Case:
    """One (episode, seed): the lab objects an intervention needs."""

    def __init__(self, lab: timeline.Lab, ep: Episode, seed: int) -> None:
        self.lab, self.ep, self.seed = lab, ep, seed
        self.canary = lab.world(DEFAULT_WORLD, seed).test
        self.eval_world = ep.eval_world
        self.current = lab.world(ep.eval_world, seed).val
        self.deployed = Deployment(timeline.deployed_model(lab, ep, seed))
        self.baseline = Deployment(timeline.deployed_model(lab, timeline.BASELINE, seed))
        self.train_world = ep.retrain.train_world if ep.retrain is not None else DEFAULT_WORLD

    def measure(self, dep: Deployment, current_world: Any = None) -> dict[str, dict[str, float]]:
        current = self.current if current_world is None else self.lab.world(current_world, self.seed).val
        return {"canary": set_measures(dep, self.canary.images, self.canary.tokens, self.seed),
                "current": set_measures(dep, current.images, current.tokens, self.seed)}

    def marker_reliance(self, dep: Deployment) -> float:
        base = set_measures(dep, self.canary.images, self.canary.tokens, self.seed)
        top = 0.5 * (base["i2t_top1"] + base["t2i_top1"])
        rises = []
        for kind in timeline.MARKER_KINDS:
            marked = self.lab.world(DEFAULT_WORLD.replace(confounder=kind), self.seed).test
            m = set_measures(dep, marked.images, marked.tokens, self.seed)
            rises.append(0.5 * (m["i2t_top1"] + m["t2i_top1"]) - top)
        return float(max(rises))


def _act(case: Case, decision: Decision, config: InterventionConfig, workdir: str) -> dict[str, Any]:
    """Run the decided action: the new deployment (None when refused at run time), the world its current
    set now comes from, details, the fine-tune record and the mechanism check."""
    assert decision.action is not None
    name, seed = decision.action.name, case.seed
    out: dict[str, Any] = {"deployment": None, "current_world": None, "details": {}, "fine_tune": None,
                           "fine_tune_args": None, "mechanism": None}
    train = case.lab.world(case.train_world, seed)
    clean = case.lab.world(DEFAULT_WORLD, seed)
    monitor = (clean.val.images[:config.monitor_items], clean.val.tokens[:config.monitor_items])

    def tune(images: np.ndarray, tokens: np.ndarray, start: Deployment | None = None, **kw: Any) -> None:
        start = case.deployed if start is None else start
        dep, result = actions.fine_tune(start, images, tokens, monitor, config, workdir, seed=seed, **kw)
        out.update(deployment=dep, fine_tune=result.record, fine_tune_args=(start, images, tokens, monitor, kw))

    if name == "temperature_recalibration":
        dep, details = actions.temperature_recalibration(case.deployed, case.baseline, case.canary.images,
                                                         case.canary.tokens)
        out.update(deployment=dep, details=details)
    elif name == "input_renormalisation":
        modality = decision.action.params["modality"]
        dep, details = actions.input_renormalisation(case.deployed, modality, case.canary.images, case.current.images,
                                                     (DEFAULT_WORLD.text_scale, DEFAULT_WORLD.text_shift), config)
        out.update(deployment=dep, details=details)
        if dep is not None and modality == "image":
            drift = input_drift(case.canary.images, case.canary.tokens, dep.renormalised(case.current.images),
                                case.current.tokens)["input_drift_img"]
            out["mechanism"] = {"name": "input_drift_img", "value": drift, "op": "<=",
                                "threshold": Contract().max_input_drift, "passed": drift <= Contract().max_input_drift}
    elif name == "pairing_sanitation":
        corrupt = train.train.index != train.train.text_index
        f = actions.sanitation_filter(case.deployed.model, train.train.images, train.train.tokens,
                                      config.sanitation_percentile, corrupt)
        keep = f.pop("keep")
        out["details"] = {"filter": f}
        if f["kept_fraction"] < config.min_keep_fraction:
            out["details"]["refusal"] = (f"only {f['kept_fraction']:.2f} of the training pairs pass the filters "
                                         f"(< {config.min_keep_fraction}): the join looks systematically broken and "
                                         "no clean subset remains to fine-tune on; fix the join (escalation)")
            return out
        tune(train.train.images[keep], train.train.tokens[keep])
        zi = out["deployment"].embed_images(train.train.images[keep])
        zt = out["deployment"].embed_texts(train.train.tokens[keep])
        suspect = float(audit_pairs(zi, zt, seed=seed, max_items=1024)["suspect_fraction"])
        limit = Contract().max_suspect_pairs
        out["mechanism"] = {"name": "pair_audit_suspect_kept", "value": suspect, "op": "<=", "threshold": limit,
                            "passed": suspect <= limit}
    elif name == "confounder_ablation":
        ablated = case.eval_world.replace(confounder="none")
        cur = case.lab.world(ablated, seed).val
        before = set_measures(case.deployed, case.current.images, case.current.tokens, seed)
        after = set_measures(case.deployed, cur.images, cur.tokens, seed)
        out["details"] = {"ablation": "the known marker channel removed from both modalities of the deployed inputs",
                          "current_top1_with_marker": 0.5 * (before["i2t_top1"] + before["t2i_top1"]),
                          "current_top1_ablated": 0.5 * (after["i2t_top1"] + after["t2i_top1"]),
                          "marker_reliance_before": case.marker_reliance(case.deployed)}
        # The fine-tune starts from the last healthy release (the baseline's weights under the deployed
        # scoring and preprocessing), not from the confounded model: a model trained with the shortcut
        # spent part of its embedding spectrum on the marker, and on marker-free inputs those directions
        # carry no variance (effective rank 11.4-12.1 against the floor of 12 on the tuning seeds
        # 100-104, the healthy release about 16); fine-tuning on confounder-free data removes the reliance
        # within K steps but re-spreads the spectrum only by a few tenths per 120 steps (600-1200 steps
        # to reach the floor at the fine-tune learning rate), far beyond K.
        healthy = case.baseline.model
        start = dataclasses.replace(case.deployed, model=dataclasses.replace(
            case.deployed.model, image_tower=healthy.image_tower, text_tower=healthy.text_tower))
        clean_reading = float(min(panel.effective_rank(case.deployed.embed_images(monitor[0])),
                                  panel.effective_rank(case.deployed.embed_texts(monitor[1]))))
        out["details"].update(
            fine_tune_start="last_healthy_release",
            fine_tune_start_weights_sha256=start.model.weights_sha256(),
            confounded_weights_sha256=case.deployed.model.weights_sha256(),
            confounded_effective_rank_marker_free=clean_reading,
            start_reason=("the confounded model spent embedding directions on the marker: on marker-free inputs its "
                          "effective rank is below the floor and a K-step fine-tune cannot re-spread it, so the "
                          "confounder-free fine-tune starts from the last healthy release"))
        free = case.lab.world(case.train_world.replace(confounder="none"), seed)
        tune(free.train.images, free.train.tokens, start=start)
        out["current_world"] = ablated
        reliance = case.marker_reliance(out["deployment"])
        out["mechanism"] = {"name": "marker_reliance", "value": reliance, "op": "<=",
                            "threshold": config.min_marker_effect, "passed": reliance <= config.min_marker_effect}
    elif name == "gradient_rebalancing":
        bal = actions.gradient_balance(case.deployed.model, clean.val.images, clean.val.tokens, config.temperature,
                                       config)
        out["details"] = {"balance": bal}
        if not bal["sufficient"]:
            out["details"]["refusal"] = (f"measured gradient-norm imbalance {bal['imbalance']:.2f} < "
                                         f"{config.min_grad_imbalance}: no balancing factor is justified")
            return out
        tune(train.train.images, train.train.tokens, grad_scale_img=bal["grad_scale_img"],
             grad_scale_txt=bal["grad_scale_txt"])
    elif name == "limited_fine_tune":
        tune(clean.train.images, clean.train.tokens)
    return out


def _destabilised(case: Case, args: tuple, config: InterventionConfig) -> dict[str, Any]:
    start, images, tokens, monitor, kw = args
    with tempfile.TemporaryDirectory() as tmp:
        lr = config.lr * config.destabilise_lr_factor
        _, result = actions.fine_tune(start, images, tokens, monitor, config, tmp, lr=lr, seed=case.seed, **kw)
    r = result.record
    ok = bool(r["stopped"] and r["rolled_back"] and r["rollback"]["byte_identical"])
    return {"lr": lr, "stopped": r["stopped"], "stopped_at_step": r["stopped_at_step"], "fired": r["fired"],
            "rolled_back": r["rolled_back"], "rollback": r["rollback"], "stopped_and_rolled_back": ok}


def intervene_case(lab: timeline.Lab, ep: Episode, seed: int, base: Mapping[str, float], spread: Any,
                   config: InterventionConfig = DEFAULT_INTERVENTION) -> dict[str, Any]:
    """Diagnose, decide, act, re-measure one (episode, seed); the JSON-ready case record."""
    _, result = timeline.assess(lab, ep, seed, base, spread)
    case = Case(lab, ep, seed)
    contract = Contract()
    before = case.measure(case.deployed)
    checks_before = acceptance_checks(before, contract)
    failed = tuple(k for k, v in checks_before.items() if not v["passed"])
    diagnosis = Diagnosis.from_classification(result, failed)
    decision = select_action(diagnosis, config)
    rec: dict[str, Any] = {
        "episode": ep.name, "seed": seed, "kind": ep.kind, "truth": list(ep.truth), "label": result.label,
        "diagnosis": diagnosis.to_dict(), "decision": decision.to_dict(), "policy_config_sha256": config.sha256(),
        "contract_sha256": contract.sha256(), "deployed_before": case.deployed.identity(),
        "before": before, "checks_before": checks_before, "after": None, "checks_after": None, "mechanism": None,
        "worse": [], "healthy_baseline": None, "before_on_changed_inputs": None, "action_details": {}, "fine_tune": None, "destabilised": None, "deployed_after": None,
        "acted": False, "restored": False, "accepted": False, "outcome": {"none": "no_action", "escalate": "escalated",
                                                                         "refuse": "refused"}.get(decision.kind, "")}
    if decision.kind != "act":
        return rec
    with tempfile.TemporaryDirectory() as workdir:
        done = _act(case, decision, config, workdir)
    rec["action_details"] = done["details"]
    rec["fine_tune"] = done["fine_tune"]
    if done["fine_tune_args"] is not None:
        rec["destabilised"] = _destabilised(case, done["fine_tune_args"], config)
    if done["deployment"] is None:
        rec["outcome"] = "refused"
        rec["decision"]["runtime_refusal"] = done["details"].get("refusal", "refused at run time")
        return rec
    after = case.measure(done["deployment"], done["current_world"])
    checks_after = acceptance_checks(after, contract)
    reference = before
    if done["current_world"] is not None:
        # the current set itself changed (the ablation): compare like with like, the untouched model on it
        reference = case.measure(case.deployed, done["current_world"])
        rec["before_on_changed_inputs"] = reference
    healthy = case.measure(case.baseline, done["current_world"])
    rec["healthy_baseline"] = healthy
    got_worse = worse(reference, after, config, healthy)
    mechanism = done["mechanism"]
    restored = all(v["passed"] for v in checks_after.values()) and (mechanism is None or bool(mechanism["passed"]))
    accepted = restored and not got_worse
    rec.update(after=after, checks_after=checks_after, mechanism=mechanism, worse=got_worse, acted=True,
               restored=restored, accepted=accepted, deployed_after=done["deployment"].identity(),
               outcome="accepted" if accepted else "reverted")
    if done["current_world"] is not None:
        rec["action_details"]["current_world_changes"] = {
            k: v for k, v in done["current_world"].to_dict().items() if case.eval_world.to_dict().get(k) != v}
    return rec


def summary(records: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """The INTERVENE counts."""
    acted = [r for r in records if r["acted"]]
    dest = [r["destabilised"] for r in records if r["destabilised"] is not None]
    benign = [r for r in records if r["kind"] == "benign"]
    return {"restored": sum(r["restored"] for r in acted), "acted": len(acted),
            "harmful_accepted": sum(bool(r["accepted"] and r["worse"]) for r in records),
            "accepted": sum(r["accepted"] for r in records),
            "rolled_back": sum(d["stopped_and_rolled_back"] for d in dest), "destabilised": len(dest),
            "benign_untouched": sum(not r["acted"] and r["decision"]["kind"] in ("none", "escalate", "refuse")
                                    and r["deployed_after"] is None for r in benign),
            "benign_total": len(benign),
            "escalated": sum(r["outcome"] in ("escalated", "refused") for r in records),
            "reverted": sum(r["outcome"] == "reverted" for r in records)}


def intervene_line(c: Mapping[str, int]) -> str:
    """The last line ``python -m mmgate intervene`` prints."""
    return (f"INTERVENE restored={c['restored']}/{c['acted']} harmful_accepted={c['harmful_accepted']} "
            f"rolled_back={c['rolled_back']}/{c['destabilised']} benign_untouched={c['benign_untouched']}/"
            f"{c['benign_total']}")


def run_interventions(seeds: Sequence[int] = timeline.EVALUATION_SEEDS, episodes: Sequence[Episode] | None = None,
                      spread_seeds: Sequence[int] = timeline.SPREAD_SEEDS,
                      config: InterventionConfig = DEFAULT_INTERVENTION,
                      progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Every episode at every seed: the case records, summary counts and the INTERVENE line."""
    seeds = timeline._seeds(seeds, "seeds")
    spread_seeds = timeline._seeds(spread_seeds, "spread_seeds")
    episodes = tuple(EPISODES if episodes is None else episodes)
    lab = timeline.Lab()
    spread = timeline._spread(lab, spread_seeds, seeds, progress)
    records = []
    for seed in seeds:
        base = timeline.observe(lab, timeline.BASELINE, seed)
        for ep in episodes:
            rec = intervene_case(lab, ep, seed, base, spread, config)
            records.append(rec)
            if progress is not None:
                progress(f"seed {seed} {ep.name}: label {rec['label']} -> {rec['decision']['kind']} "
                         f"{(rec['decision']['action'] or {}).get('name', '')} outcome {rec['outcome']}")
        lab.forget(seed)
    counts = summary(records)
    return {"seeds": {"evaluation": list(seeds), "spread": list(spread_seeds)},
            "episodes": [ep.to_dict() for ep in episodes], "config": config.to_dict(),
            "policy_config_sha256": config.sha256(), "prohibited": list(PROHIBITED), "records": records,
            "summary": counts, "line": intervene_line(counts)}


__all__ = [
    "QUICK_EPISODES",
    "QUICK_SEEDS",
    "QUICK_SPREAD_SEEDS",
    "Case",
    "acceptance_checks",
    "intervene_case",
    "intervene_line",
    "run_interventions",
    "set_measures",
    "summary",
    "worse",
]
