"""The bounded intervention policy (book §3.7.1): pure functions over frozen dataclasses.

``select_action(diagnosis, config)`` maps a diagnosis (the drift classifier's label with its fired
evidence terms and readings, and the acceptance checks that failed before any action) to a
``Decision``: no action (benign), an escalation (``unknown``, or a label no permitted action
repairs), a refusal for lack of evidence (which also escalates), or one permitted action with its
parameters. Three bounds hold by construction:

- scope: only the actions in ``ACTIONS`` (auditable, reversible: a scoring parameter, an input
  transform, or a fine-tune of at most K steps from a checkpoint that is kept); full retraining is
  an escalation outcome, never an action;
- intensity: a parameter-changing action asks for ``config.fine_tune_steps`` <= K steps, checked
  again when an ``Action`` is built;
- evidence: each action names the classifier terms it needs; a label whose minimum evidence was met
  through other terms is refused (e.g. spurious alignment from MI symptoms only gets no ablation).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from mmgate.drift.classifier import BENIGN, UNKNOWN, Classification
from mmgate.errors import ConfigError
from mmgate.lab.interventions.config import ACTIONS, InterventionConfig

PARAMETER_CHANGING = frozenset({"gradient_rebalancing", "pairing_sanitation", "confounder_ablation",
                                "limited_fine_tune"})
KINDS = ("none", "act", "refuse", "escalate")

# Per label: the action and its minimum evidence (any one conjunction of the label's fired terms).
EVIDENCE: Mapping[str, tuple[str, tuple[tuple[str, ...], ...], str]] = MappingProxyType({
    "scoring_drift": ("temperature_recalibration", (("temperature_shift", "embeddings_unchanged"),),
                      "the temperature moved while the canary embeddings did not"),
    "modality_drift": ("input_renormalisation", (("image_input_drift", "text_input_quiet"),
                                                 ("text_input_drift", "image_input_quiet")),
                       "one modality's input profile drifted past alert while the other stayed below warn"),
    "dominance": ("gradient_rebalancing", (("symmetry_gap", "rank_divergence"), ("symmetry_gap", "norm_divergence")),
                  "a symmetry-gap shift with rank or norm divergence"),
    "pairing_corruption": ("pairing_sanitation", (("pair_audit",),),
                           "the training-pair audit flags mispaired training data (pairing-drift indicator)"),
    "spurious_alignment": ("confounder_ablation", (("marker_reliance",), ("marker_removal",)),
                           ("a counterfactual marker test shows reliance (strong confounder indicator; MI "
                            "symptoms alone are not enough)")),
    "collapse": ("limited_fine_tune", (("cosine_rise", "rank_drop"),),
                 "canary mean cosine rose and effective rank fell"),
})


@dataclass(frozen=True)
class Diagnosis:
    """What the policy reads: the label, its score and margin, the fired terms and readings of every
    class, and the acceptance checks that failed before any action."""

    label: str
    score: float
    margin: float
    fired: Mapping[str, tuple[str, ...]]
    readings: Mapping[str, Mapping[str, float]]
    failed_checks: tuple[str, ...] = ()
    rules_sha256: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "fired", MappingProxyType({k: tuple(v) for k, v in self.fired.items()}))
        object.__setattr__(self, "readings", MappingProxyType({k: MappingProxyType(dict(v))
                                                                for k, v in self.readings.items()}))

    @classmethod
    def from_classification(cls, result: Classification, failed_checks: tuple[str, ...] = ()) -> Diagnosis:
        """The diagnosis of one classifier result."""
        return cls(result.label, float(result.score), float(result.margin),
                   {e.label: e.fired for e in result.evidence},
                   {e.label: dict(e.readings) for e in result.evidence}, tuple(failed_checks), result.rules_sha256)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready copy (fired terms and readings of the label's class only, plus every class's fired terms)."""
        return {"label": self.label, "score": self.score, "margin": self.margin,
                "fired": {k: list(v) for k, v in self.fired.items()},
                "readings": dict(self.readings.get(self.label, {})), "failed_checks": list(self.failed_checks),
                "rules_sha256": self.rules_sha256}


@dataclass(frozen=True)
class Action:
    """One permitted action and its parameters; ``steps`` is its optimiser steps (0: no parameter change)."""

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)
    steps: int = 0

    def __post_init__(self) -> None:
        if self.name not in ACTIONS:
            raise ConfigError(f"Action.name: {self.name!r} is not a permitted action; expected one of {list(ACTIONS)}")
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 0:
            raise ConfigError(f"Action.steps: expected an integer >= 0, got {self.steps!r}")
        if self.name not in PARAMETER_CHANGING and self.steps:
            raise ConfigError(f"Action {self.name!r} changes no parameters; expected steps 0, got {self.steps}")
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    def bounded(self, config: InterventionConfig) -> Action:
        """This action, or ConfigError when it asks for more than K steps."""
        if self.steps > config.max_steps:
            raise ConfigError(f"Action {self.name!r}: {self.steps} steps exceed the intensity bound K = "
                              f"{config.max_steps}")
        return self

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready copy."""
        return {"name": self.name, "params": dict(self.params), "steps": self.steps}


@dataclass(frozen=True)
class Decision:
    """The policy's output: ``kind`` (none, act, refuse, escalate), the action when acting, why, and the
    evidence terms that justified (or were missing for) it."""

    kind: str
    reason: str
    action: Action | None = None
    evidence_required: tuple[tuple[str, ...], ...] = ()
    evidence_met: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"Decision.kind: expected one of {list(KINDS)}, got {self.kind!r}")
        if (self.kind == "act") != (self.action is not None):
            raise ConfigError("Decision: an action exactly when kind is 'act'")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready copy."""
        return {"kind": self.kind, "reason": self.reason,
                "action": None if self.action is None else self.action.to_dict(),
                "evidence_required": [list(c) for c in self.evidence_required],
                "evidence_met": list(self.evidence_met)}


def _modality(fired: tuple[str, ...]) -> str:
    return "image" if "image_input_drift" in fired and "text_input_quiet" in fired else "text"


def select_action(diagnosis: Diagnosis, config: InterventionConfig) -> Decision:
    """The bounded decision for ``diagnosis`` under ``config`` (pure)."""
    if not isinstance(diagnosis, Diagnosis) or not isinstance(config, InterventionConfig):
        raise ConfigError("select_action: expected a Diagnosis and an InterventionConfig")
    label = diagnosis.label
    if label == BENIGN:
        return Decision("none", "benign drift: no failure mechanism met its minimum evidence; nothing is done")
    if label == UNKNOWN:
        return Decision("escalate", "unattributed drift: no class met its minimum evidence, so no action has the "
                                    "evidence it requires; escalated for review, never acted on")
    if label not in EVIDENCE:
        return Decision("escalate", f"no permitted action is defined for {label!r}; escalated")
    name, required, text = EVIDENCE[label]
    fired = diagnosis.fired.get(label, ())
    met = next((c for c in required if all(t in fired for t in c)), None)
    if met is None:
        return Decision("refuse", f"{label}: the action {name} requires {text}; the fired terms {list(fired)} do not "
                                  f"meet it, so it is refused and escalated", None, required, tuple(fired))
    steps = config.fine_tune_steps if name in PARAMETER_CHANGING else 0
    params: dict[str, Any] = {}
    if name == "input_renormalisation":
        params["modality"] = _modality(fired)
    if name in PARAMETER_CHANGING:
        params.update(lr=config.lr, temperature=config.temperature, batch_size=config.batch_size)
    action = Action(name, params, steps).bounded(config)
    return Decision("act", f"{label}: {text} ({' and '.join(met)} fired); permitted action {name}", action,
                    required, tuple(met))
