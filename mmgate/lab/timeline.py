"""The episode timeline (book §3.8): every episode deployed against the healthy baseline at every
seed, observed on the stable canary set and on the current set, turned into features, classified
and decided; then truth against prediction, a confusion matrix and label stability over seeds.

Seeds: the classifier's thresholds were tuned on ``TUNING_SEEDS`` (100-104), which also give the
baseline's spread over seed repeats; the reported numbers come from ``EVALUATION_SEEDS`` (0-4),
which never fed a threshold. Each seed reseeds the worlds and the training runs. The canary is the
baseline world's test split; the current set is the validation split of the episode's evaluation
world (other items than the canary, as production traffic would be).

``write_timeline`` writes the result as a strict ``drift_timeline`` report plus one strict
``drift_debug`` report per unknown label, each validated against its schema before anything is written.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from mmgate.drift.classifier import (
    BENIGN,
    LABELS,
    UNKNOWN,
    Classification,
    classify,
    rules_report,
)
from mmgate.drift.episodes import EPISODES, Episode, Retrain
from mmgate.drift.features import (
    BaselineSpread,
    FeatureVector,
    baseline_spread,
    embedding_shift,
    feature_vector,
    input_drift,
    observation,
    pair_audit,
    paired_shift,
    set_metrics,
)
from mmgate.errors import ConfigError
from mmgate.lab.builtin import ReferenceTrainer, deployed
from mmgate.panel import retrieval_metrics
from mmgate.reference import ReferenceAligner
from mmgate.world import DEFAULT_WORLD, SplitData, World, WorldConfig

EVALUATION_SEEDS: tuple[int, ...] = (0, 1, 2, 3, 4)
TUNING_SEEDS: tuple[int, ...] = (100, 101, 102, 103, 104)
SPREAD_SEEDS: tuple[int, ...] = TUNING_SEEDS
MARKER_KINDS = ("parity", "bucket")
BASELINE = Episode("baseline", (BENIGN,), "the healthy baseline itself: reference aligner on the default world")
DECISIONS = {"approve": "APPROVE", "reject": "REJECT"}


class Lab:
    """The timeline's view of a ``ReferenceTrainer`` (worlds and trained models, each built once;
    no module-level state): models by the ``Retrain`` an episode describes."""

    def __init__(self, trainer: ReferenceTrainer | None = None) -> None:
        self.trainer = ReferenceTrainer() if trainer is None else trainer

    def world(self, config: WorldConfig, seed: int) -> World:
        """The world of ``config`` at ``seed``, generated once."""
        return self.trainer.world(config, seed)

    def model(self, retrain: Retrain, seed: int) -> ReferenceAligner:
        """The aligner ``retrain`` describes, trained once on its world at ``seed`` (training seed
        ``seed + retrain.seed_offset``); ``Retrain()`` is the baseline model."""
        return self.trainer.train(retrain.train_world, seed, retrain.aligner, retrain.training,
                                  seed + retrain.seed_offset).model

    def forget(self, seed: int) -> None:
        """Drop the seed's worlds and models once its episodes are done (bounded memory)."""
        self.trainer.forget(seed)


def _top1(model: ReferenceAligner, split: SplitData) -> float:
    r = retrieval_metrics(model.embed_images(split.images), model.embed_texts(split.tokens), ks=(1,))
    return 0.5 * (r["i2t_recall@1"] + r["t2i_recall@1"])


def deployed_model(lab: Lab, ep: Episode, seed: int) -> ReferenceAligner:
    """The episode's deployed model: baseline or retrained, on the episode's text preprocessing, with
    the declared temperature times the episode's scale."""
    model = lab.model(ep.retrain if ep.retrain is not None else Retrain(), seed)
    model = deployed(model, ep.eval_world)
    return dataclasses.replace(model, temperature=model.temperature * ep.temperature_scale)


def observe(lab: Lab, ep: Episode, seed: int) -> dict[str, float]:
    """The flat observation of one deployment at one seed (see ``mmgate.drift.features``)."""
    model = deployed_model(lab, ep, seed)
    baseline_model = deployed(lab.model(Retrain(), seed), DEFAULT_WORLD)
    canary = lab.world(DEFAULT_WORLD, seed).test
    current = lab.world(ep.eval_world, seed).val
    zc = (model.embed_images(canary.images), model.embed_texts(canary.tokens))
    zu = (model.embed_images(current.images), model.embed_texts(current.tokens))
    sets = {name: set_metrics(*z, factors=s.factors, confounders=s.confounders, temperature=model.temperature,
                              seed=seed)
            for name, z, s in (("canary", zc, canary), ("current", zu, current))}
    compare = input_drift(canary.images, canary.tokens, current.images, current.tokens)
    for tag, ref, new in (("img", zc[0], zu[0]), ("txt", zc[1], zu[1])):
        shift = embedding_shift(ref, new, seed)
        compare[f"embedding_drift_{tag}"] = shift["advantage"]
        compare[f"centroid_effect_{tag}"] = shift["centroid_effect"]
    canary_top1 = sets["canary"]["top1"]
    compare["marker_reliance"] = max(_top1(model, lab.world(DEFAULT_WORLD.replace(confounder=k), seed).test)
                                     - canary_top1 for k in MARKER_KINDS)
    unmarked = lab.world(ep.eval_world.replace(confounder="none"), seed).val
    compare["marker_removal_drop"] = sets["current"]["top1"] - _top1(model, unmarked)
    train = lab.world(ep.retrain.train_world if ep.retrain is not None else DEFAULT_WORLD, seed).train
    compare["pair_audit_suspect"] = pair_audit(model.embed_images(train.images), model.embed_texts(train.tokens),
                                               seed)
    compare["canary_shift_img"] = paired_shift(baseline_model.embed_images(canary.images), zc[0])
    compare["canary_shift_txt"] = paired_shift(baseline_model.embed_texts(canary.tokens), zc[1])
    compare["canary_shift_max"] = max(compare["canary_shift_img"], compare["canary_shift_txt"])
    return observation(sets["canary"], sets["current"], compare)


def decide(result: Classification) -> dict[str, Any]:
    """Decision record of one classified deployment: benign -> APPROVE; a failure class -> REJECT;
    unknown -> REJECT with escalation (unattributed drift fails the gate and goes to a reviewer with
    the debug artifact; it is never approved)."""
    if result.label == UNKNOWN:
        return {"decision": DECISIONS["reject"], "escalate": True,
                "reason": "unattributed drift: no class met its minimum evidence; rejected and escalated "
                          "for review with the debug artifact"}
    if result.label == BENIGN:
        return {"decision": DECISIONS["approve"], "escalate": False,
                "reason": "benign drift: no failure mechanism met its minimum evidence"}
    return {"decision": DECISIONS["reject"], "escalate": False,
            "reason": f"{result.label} met its minimum evidence (score {result.score:.2f}, "
                      f"margin {result.margin:.2f})"}


def debug_artifact(ep: Episode, seed: int, features: FeatureVector, result: Classification) -> dict[str, Any]:
    """What a reviewer needs for an ``unknown``: features, per-class scores, failed rules, the
    decision, open items and questions (``debug_report`` wraps it as a strict report)."""
    return {
        "episode": ep.name, "seed": seed, "label": result.label, "decision": decide(result),
        "rules_sha256": result.rules_sha256,
        "scores": {e.label: e.score for e in result.evidence},
        "failed_rules": {e.label: list(e.failed_rules) for e in result.evidence},
        "fired_terms": {e.label: list(e.fired) for e in result.evidence},
        "features": features.to_dict(),
        "open_items": ["no drift class met its minimum evidence: the drift is unattributed, rejected and escalated"],
        "questions_to_verify": ["Is this a mixture of drift types?", "Are the thresholds miscalibrated?",
                                "Did a failure mode outside the taxonomy occur?",
                                "Are probes unstable at this sample size?"],
    }


def snapshot(obs: Mapping[str, float]) -> dict[str, dict[str, float]]:
    """An observation grouped as the monitoring snapshot: canary, current and compare metrics."""
    grouped: dict[str, dict[str, float]] = {}
    for name, value in obs.items():
        group, metric = name.split(".", 1)
        grouped.setdefault(group, {})[metric] = float(value)
    return grouped


def _record(ep: Episode, seed: int, features: FeatureVector, result: Classification) -> dict[str, Any]:
    correct = result.label in ep.truth
    return {
        "episode": ep.name, "seed": seed, "kind": ep.kind, "truth": list(ep.truth),
        "snapshot": snapshot(features.current),
        "features": {"raw": dict(features.raw), "normalised": dict(features.normalised)},
        "classification": result.to_dict(),
        "decision": decide(result), "predicted": result.label, "correct": correct,
        "confident_wrong": result.confident and not correct,
    }


def confusion(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Confusion matrix: rows are truth (joined with '+' for mixed episodes), columns every label."""
    rows = sorted({"+".join(r["truth"]) for r in records})
    counts = {row: {label: 0 for label in LABELS} for row in rows}
    for r in records:
        counts["+".join(r["truth"])][r["predicted"]] += 1
    return {"rows": rows, "columns": list(LABELS), "counts": counts}


def stability(records: Sequence[Mapping[str, Any]], episodes: Sequence[Episode]) -> dict[str, Any]:
    """Per episode: label counts over seeds, the modal label and the share of seeds that gave it."""
    out = {}
    for ep in episodes:
        labels = [r["predicted"] for r in records if r["episode"] == ep.name]
        counts = Counter(labels)
        modal, top = min(counts.items(), key=lambda kv: (-kv[1], LABELS.index(kv[0])))
        out[ep.name] = {"labels": labels, "counts": dict(counts), "modal": modal, "agreement": top / len(labels)}
    return out


def summary(records: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """The TIMELINE counts over episodes x seeds."""
    single = [r for r in records if r["kind"] == "single_axis"]
    mixed = [r for r in records if r["kind"] == "mixed"]
    benign = [r for r in records if r["kind"] == "benign"]
    return {"single_axis_correct": sum(r["correct"] for r in single), "single_axis_total": len(single),
            "mixed_confident_wrong": sum(r["confident_wrong"] for r in mixed), "mixed_total": len(mixed),
            "mixed_unknown": sum(r["predicted"] == UNKNOWN for r in mixed),
            "benign_correct": sum(r["correct"] for r in benign), "benign_total": len(benign)}


def timeline_line(counts: Mapping[str, int]) -> str:
    """The last line ``timeline_main`` prints."""
    return (f"TIMELINE single_axis_correct={counts['single_axis_correct']}/{counts['single_axis_total']} "
            f"mixed_confident_wrong={counts['mixed_confident_wrong']} "
            f"benign_correct={counts['benign_correct']}/{counts['benign_total']}")


def _seeds(seeds: Sequence[int], name: str) -> tuple[int, ...]:
    out = tuple(seeds)
    if not out or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in out) \
            or len(set(out)) != len(out):
        raise ConfigError(f"{name}: expected distinct non-negative integer seeds, got {list(seeds)!r}")
    return out


def _spread(lab: Lab, seeds: tuple[int, ...], keep: tuple[int, ...],
            progress: Callable[[str], None] | None) -> BaselineSpread:
    repeats = []
    for seed in seeds:
        repeats.append(observe(lab, BASELINE, seed))
        if seed not in keep:
            lab.forget(seed)
        if progress is not None:
            progress(f"baseline spread: seed {seed} observed")
    return baseline_spread(repeats, seeds)


def assess(lab: Lab, ep: Episode, seed: int, base: Mapping[str, float],
           spread: BaselineSpread) -> tuple[FeatureVector, Classification]:
    """One episode at one seed against that seed's baseline observation ``base``: its feature vector
    (normalised by ``spread``) and classification."""
    features = feature_vector(base, observe(lab, ep, seed), spread)
    return features, classify(features)


def measure_spread(seeds: Sequence[int] = SPREAD_SEEDS,
                   progress: Callable[[str], None] | None = None) -> BaselineSpread:
    """The healthy baseline's spread over seed repeats (its observation at each of ``seeds``)."""
    return _spread(Lab(), _seeds(seeds, "spread_seeds"), (), progress)


def run_timeline(seeds: Sequence[int] = EVALUATION_SEEDS, episodes: Sequence[Episode] | None = None,
                 spread_seeds: Sequence[int] | None = None,
                 progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Every episode (default ``EPISODES``) at every seed against that seed's baseline, normalised by
    the spread over ``spread_seeds`` (default ``SPREAD_SEEDS``): JSON-ready records, confusion
    matrix, stability, summary counts and the classifier's fixed rules."""
    seeds = _seeds(seeds, "seeds")
    spread_seeds = _seeds(SPREAD_SEEDS if spread_seeds is None else spread_seeds, "spread_seeds")
    episodes = tuple(EPISODES if episodes is None else episodes)
    if not episodes or len({e.name for e in episodes}) != len(episodes):
        raise ConfigError("episodes: expected a non-empty sequence of distinctly named episodes")
    lab = Lab()
    spread = _spread(lab, spread_seeds, seeds, progress)
    records, unknowns, baselines = [], [], {}
    for seed in seeds:
        base = observe(lab, BASELINE, seed)
        baselines[str(seed)] = snapshot(base)
        for ep in episodes:
            features, result = assess(lab, ep, seed, base, spread)
            records.append(_record(ep, seed, features, result))
            if result.label == UNKNOWN:
                unknowns.append(debug_artifact(ep, seed, features, result))
            if progress is not None:
                progress(f"seed {seed} {ep.name}: truth {'+'.join(ep.truth)} predicted {result.label}")
        lab.forget(seed)
    counts = summary(records)
    return {
        "seeds": {"evaluation": list(seeds), "tuning": list(TUNING_SEEDS), "spread": list(spread_seeds),
                  "note": "thresholds were fixed on the tuning seeds; the spread seeds give the normalisation"},
        "episodes": [BASELINE.to_dict() | {"index": 0}] + [ep.to_dict() | {"index": i + 1}
                                                            for i, ep in enumerate(episodes)],
        "spread": spread.to_dict(), "classifier": rules_report(), "baselines": baselines, "records": records,
        "truth_vs_prediction": [{"episode": r["episode"], "seed": r["seed"], "truth": r["truth"],
                                 "predicted": r["predicted"], "correct": r["correct"],
                                 "decision": r["decision"]["decision"]} for r in records],
        "confusion": confusion(records), "stability": stability(records, episodes), "summary": counts,
        "line": timeline_line(counts), "debug": unknowns,
    }


