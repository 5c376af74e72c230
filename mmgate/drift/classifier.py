"""Transparent drift classifier (book §3.6.2-3.6.3): per class, weighted evidence terms over the
feature vector plus minimum-evidence rules; the label is the best-scoring class whose minimum
evidence is met, else ``unknown``.

An evidence term reads one feature from one view of the feature vector (``normalised``: delta over
the baseline's spread; ``raw``: the delta; ``value``: the deployment's own observation) and fires
when the value crosses its threshold in its direction (``rise``, ``fall``, ``abs``), or, for a
negated term, when it does not. A fired term adds ``weight x min(CAP, strength / threshold)`` to its
class score (a negated term adds its weight). Direct tests of a mechanism (the
counterfactual marker probes, the training-pair audit, the temperature fit against unchanged
embeddings) carry larger weights than panel symptoms (cosine, rank, symmetry), because several
mechanisms produce the same symptoms: a model trained on offset pairs or on a shortcut marker also
looks collapsed on the canary.

Minimum evidence is a disjunction of conjunctions of term names. ``benign`` is defined from the
others: its terms are the negated mirror of every firing term in any failure class's minimum evidence
plus a canary-retrieval alarm, and all of them must hold. So a deployment is benign only when no
failure mechanism has its minimum evidence and the canary did not degrade; when something moved
that no class explains, the label is ``unknown``.

Every threshold and weight below was fixed on the tuning seeds (100-104) before the evaluation seeds
were run; ``RULES_SHA256`` fingerprints them for the report.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mmgate.drift.features import FEATURE_NAMES, FeatureVector
from mmgate.drift.profiles import DEFAULT_THRESHOLDS
from mmgate.errors import ConfigError, InputError
from mmgate.records.canonical import canonical_json_line

BENIGN = "benign"
UNKNOWN = "unknown"
FAILURE_CLASSES: tuple[str, ...] = ("dominance", "spurious_alignment", "pairing_corruption", "collapse",
                                    "scoring_drift", "modality_drift")
CLASSES: tuple[str, ...] = (BENIGN, *FAILURE_CLASSES)
LABELS: tuple[str, ...] = (*CLASSES, UNKNOWN)
VIEWS = ("normalised", "raw", "value")
DIRECTIONS = ("rise", "fall", "abs")
CAP = 3.0
DIRECT = 4.0
SYMPTOM = 1.0
SUPPORT = 0.5
QUIET = 0.5


@dataclass(frozen=True)
class Term:
    """One evidence term: ``feature`` read in ``view`` fires when its strength in ``direction`` reaches
    ``threshold``; a ``negated`` term fires exactly when that does not happen (a gate, e.g. "the
    other modality stayed quiet")."""

    name: str
    feature: str
    view: str
    direction: str
    threshold: float
    weight: float
    meaning: str
    negated: bool = False

    def __post_init__(self) -> None:
        if self.feature not in FEATURE_NAMES:
            raise ConfigError(f"Term {self.name!r}.feature: expected a feature name, got {self.feature!r}")
        if self.view not in VIEWS:
            raise ConfigError(f"Term {self.name!r}.view: expected one of {list(VIEWS)}, got {self.view!r}")
        if self.direction not in DIRECTIONS:
            raise ConfigError(f"Term {self.name!r}.direction: expected one of {list(DIRECTIONS)}, "
                              f"got {self.direction!r}")
        for name in ("threshold", "weight"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or value <= 0:
                raise ConfigError(f"Term {self.name!r}.{name}: expected a finite number > 0, got {value!r}")

    def reading(self, features: FeatureVector) -> float:
        """The value this term reads from ``features``."""
        if self.view == "normalised":
            return float(features.normalised[self.feature])
        if self.view == "raw":
            return float(features.raw[self.feature])
        return float(features.current[self.feature])

    def strength(self, x: float) -> float:
        """Size of ``x`` in this term's direction: x (rise), -x (fall) or |x| (abs)."""
        if self.direction == "rise":
            return x
        if self.direction == "fall":
            return -x
        return abs(x)

    def fired(self, x: float) -> bool:
        """Whether ``x`` is evidence: strength >= threshold (negated: strength < threshold)."""
        return (self.strength(x) >= self.threshold) != self.negated

    def contribution(self, x: float) -> float:
        """Score added by ``x`` when fired: weight x min(CAP, strength / threshold), or the weight
        for a negated term."""
        if not self.fired(x):
            return 0.0
        if self.negated:
            return self.weight
        return self.weight * min(CAP, self.strength(x) / self.threshold)

    def mirror(self) -> Term:
        """The negated term on the same reading: fires exactly when this one does not."""
        prefix = "no_" if not self.negated else ""
        return Term(f"{prefix}{self.name}", self.feature, self.view, self.direction, self.threshold, QUIET,
                    f"not: {self.meaning}", not self.negated)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready copy."""
        return {"name": self.name, "feature": self.feature, "view": self.view, "direction": self.direction,
                "threshold": self.threshold, "weight": self.weight, "negated": self.negated,
                "meaning": self.meaning}


@dataclass(frozen=True)
class ClassRule:
    """A class's evidence terms and its minimum evidence (any one conjunction of term names)."""

    label: str
    terms: tuple[Term, ...]
    minimum: tuple[tuple[str, ...], ...]
    minimum_text: str

    def __post_init__(self) -> None:
        names = [t.name for t in self.terms]
        if len(set(names)) != len(names):
            raise ConfigError(f"ClassRule {self.label!r}: duplicate term names in {names}")
        for conjunction in self.minimum:
            unknown = [n for n in conjunction if n not in names]
            if not conjunction or unknown:
                raise ConfigError(f"ClassRule {self.label!r}.minimum: conjunction {conjunction} names "
                                  f"unknown or no terms {unknown}")

    def term(self, name: str) -> Term:
        """The term called ``name``."""
        return next(t for t in self.terms if t.name == name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready copy."""
        return {"label": self.label, "terms": [t.to_dict() for t in self.terms],
                "minimum": [list(c) for c in self.minimum], "minimum_text": self.minimum_text}


def _t(name: str, feature: str, view: str, direction: str, threshold: float, weight: float,
       meaning: str, negated: bool = False) -> Term:
    return Term(name, feature, view, direction, threshold, weight, meaning, negated)


INPUT_ALERT = DEFAULT_THRESHOLDS.alert
INPUT_QUIET = DEFAULT_THRESHOLDS.warn

_FAILURE_RULES: tuple[ClassRule, ...] = (
    ClassRule("dominance", (
        _t("symmetry_gap", "canary.symmetry_gap", "normalised", "abs", 3.0, SYMPTOM,
           "the canary's image-to-text minus text-to-image top-1 moved"),
        _t("rank_divergence", "canary.rank_divergence", "normalised", "rise", 3.0, SYMPTOM,
           "the two modalities' effective ranks diverged"),
        _t("norm_divergence", "canary.abs_log_norm_ratio", "normalised", "abs", 3.0, SYMPTOM,
           "the modalities' raw norm scales moved apart or together"),
        _t("hubness_rise", "canary.hub_max", "normalised", "rise", 3.0, SUPPORT,
           "top-1 hubs concentrate on the canary"),
    ), (("symmetry_gap", "rank_divergence"), ("symmetry_gap", "norm_divergence")),
        "a symmetry-gap shift together with rank divergence or norm divergence"),
    ClassRule("spurious_alignment", (
        _t("marker_reliance", "compare.marker_reliance", "value", "rise", 0.05, DIRECT,
           "adding a shared ID marker to the canary raises the model's top-1 (it keys on the marker)"),
        _t("marker_removal", "compare.marker_removal_drop", "value", "rise", 0.05, DIRECT,
           "removing the current set's marker lowers top-1 (current retrieval leans on it)"),
        _t("confounder_mi", "current.mi_confounder_max", "normalised", "rise", 5.0, SYMPTOM,
           "the embeddings carry more information about the ID cues"),
        _t("factor_mi_decline", "canary.mi_factor_min", "normalised", "fall", 3.0, SUPPORT,
           "the embeddings carry less information about the latent factors"),
    ), (("marker_reliance",), ("marker_removal",), ("confounder_mi", "factor_mi_decline")),
        "a counterfactual marker test shows reliance, or confounder MI rises while factor MI falls"),
    ClassRule("pairing_corruption", (
        _t("pair_audit", "compare.pair_audit_suspect", "value", "rise", 0.08, DIRECT,
           "the model scores many of its training pairs like unrelated pairs (join audit)"),
        _t("canary_top1_drop", "canary.top1", "normalised", "fall", 3.0, SYMPTOM,
           "top-1 on the canary fell"),
        _t("cca_drop", "canary.cca", "normalised", "fall", 3.0, SUPPORT,
           "cross-modal canonical correlations fell"),
    ), (("pair_audit",),), "the training-pair audit flags mispaired training data"),
    ClassRule("collapse", (
        _t("cosine_rise", "canary.mean_cos_max", "normalised", "rise", 5.0, SYMPTOM,
           "canary embeddings crowd into a cone (mean cosine rose)"),
        _t("rank_drop", "canary.eff_rank_min", "normalised", "fall", 3.0, SYMPTOM,
           "fewer directions carry canary variance (effective rank fell)"),
        _t("variance_floor_drop", "canary.var_p5_min", "normalised", "fall", 3.0, SUPPORT,
           "the per-coordinate variance floor fell"),
        _t("hubness_rise", "canary.hub_max", "normalised", "rise", 3.0, SUPPORT,
           "top-1 hubs concentrate on the canary"),
    ), (("cosine_rise", "rank_drop"),), "mean cosine rose and effective rank fell on the canary"),
    ClassRule("scoring_drift", (
        _t("temperature_shift", "canary.log_temperature_ratio", "normalised", "abs", 5.0, DIRECT,
           "the declared temperature moved away from the one the canary supports"),
        _t("embeddings_unchanged", "compare.canary_shift_max", "value", "rise", 0.01, QUIET,
           "the canary embeddings are the baseline model's", negated=True),
    ), (("temperature_shift", "embeddings_unchanged"),),
        "the scoring temperature moved while the canary embeddings did not"),
    ClassRule("modality_drift", (
        _t("image_input_drift", "compare.input_drift_img", "value", "rise", INPUT_ALERT, DIRECT,
           "the current images' input profile drifted past the alert level"),
        _t("text_input_drift", "compare.input_drift_txt", "value", "rise", INPUT_ALERT, DIRECT,
           "the current captions' input profile drifted past the alert level"),
        _t("image_input_quiet", "compare.input_drift_img", "value", "rise", INPUT_QUIET, QUIET,
           "the current images' input profile is below the warn level", negated=True),
        _t("text_input_quiet", "compare.input_drift_txt", "value", "rise", INPUT_QUIET, QUIET,
           "the current captions' input profile is below the warn level", negated=True),
        _t("image_embedding_drift", "compare.embedding_drift_img", "normalised", "rise", 3.0, SUPPORT,
           "a domain classifier tells current from canary image embeddings"),
        _t("text_embedding_drift", "compare.embedding_drift_txt", "normalised", "rise", 3.0, SUPPORT,
           "a domain classifier tells current from canary caption embeddings"),
        _t("current_top1_drop", "current.top1", "normalised", "fall", 3.0, SUPPORT,
           "top-1 on the current set fell"),
    ), (("image_input_drift", "text_input_quiet"), ("text_input_drift", "image_input_quiet")),
        "one modality's inputs drifted past the alert level while the other's stayed below warn"),
)

_CANARY_ALARM = _t("canary_degraded", "canary.top1", "normalised", "fall", 4.0, QUIET,
                   "top-1 on the canary fell by more than four baseline spreads")


def _benign_rule(failures: tuple[ClassRule, ...]) -> ClassRule:
    """Benign: the negated mirror of every firing term in any failure class's minimum evidence, and no
    canary-retrieval drop."""
    mirrors: dict[str, Term] = {}
    for rule in failures:
        for conjunction in rule.minimum:
            for name in conjunction:
                term = rule.term(name)
                if not term.negated:
                    mirror = term.mirror()
                    mirrors.setdefault(mirror.name, mirror)
    mirrors.setdefault(f"no_{_CANARY_ALARM.name}", _CANARY_ALARM.mirror())
    terms = tuple(mirrors[k] for k in sorted(mirrors))
    return ClassRule(BENIGN, terms, (tuple(t.name for t in terms),),
                     "no failure class's minimum-evidence alarm fired and canary top-1 did not fall")


RULES: tuple[ClassRule, ...] = (_benign_rule(_FAILURE_RULES), *_FAILURE_RULES)
RULES_JSON = canonical_json_line({"cap": CAP, "rules": [r.to_dict() for r in RULES]})
RULES_SHA256 = hashlib.sha256(RULES_JSON.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ClassEvidence:
    """One class's score, the terms that fired with their readings, and its minimum-evidence verdict."""

    label: str
    score: float
    fired: tuple[str, ...]
    readings: Mapping[str, float]
    minimum_met: bool
    failed_rules: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready copy."""
        return {"label": self.label, "score": self.score, "fired": list(self.fired),
                "readings": dict(self.readings), "minimum_met": self.minimum_met,
                "failed_rules": list(self.failed_rules)}


@dataclass(frozen=True)
class Classification:
    """The classifier's record: label, margin over the runner-up that also met its minimum evidence,
    the classes meeting minimum evidence, and every class's evidence."""

    label: str
    score: float
    margin: float
    met: tuple[str, ...]
    evidence: tuple[ClassEvidence, ...]
    rules_sha256: str

    @property
    def confident(self) -> bool:
        """Whether a class was named (anything but ``unknown``)."""
        return self.label != UNKNOWN

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready copy."""
        return {"label": self.label, "score": self.score, "margin": self.margin, "met": list(self.met),
                "confident": self.confident, "evidence": [e.to_dict() for e in self.evidence],
                "rules_sha256": self.rules_sha256}


def _evidence(rule: ClassRule, features: FeatureVector) -> ClassEvidence:
    readings = {t.name: t.reading(features) for t in rule.terms}
    fired = tuple(t.name for t in rule.terms if t.fired(readings[t.name]))
    score = math.fsum(t.contribution(readings[t.name]) for t in rule.terms)
    failed = tuple(" and ".join(c) for c in rule.minimum if not all(n in fired for n in c))
    met = len(failed) < len(rule.minimum)
    return ClassEvidence(rule.label, float(score), fired, readings, met, () if met else failed)


def classify(features: FeatureVector) -> Classification:
    """Label ``features``: the best-scoring class whose minimum evidence is met, else ``unknown``
    (ties go to the class listed first in ``CLASSES``)."""
    if not isinstance(features, FeatureVector):
        raise InputError(f"features: expected a FeatureVector, got {type(features).__name__}")
    evidence = tuple(_evidence(rule, features) for rule in RULES)
    met = [e for e in evidence if e.minimum_met]
    if not met:
        return Classification(UNKNOWN, 0.0, 0.0, (), evidence, RULES_SHA256)
    ranked = sorted(met, key=lambda e: (-e.score, CLASSES.index(e.label)))
    runner_up = ranked[1].score if len(ranked) > 1 else 0.0
    return Classification(ranked[0].label, ranked[0].score, ranked[0].score - runner_up,
                          tuple(e.label for e in ranked), evidence, RULES_SHA256)


def rules_report() -> dict[str, Any]:
    """The fixed thresholds and weights with their sha256, for the timeline report."""
    return {"cap": CAP, "rules": [r.to_dict() for r in RULES], "sha256": RULES_SHA256}
