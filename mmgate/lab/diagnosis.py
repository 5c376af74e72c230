"""Drift diagnosis of the built-in subject: a condition's deployment seen as a drift episode against
the healthy baseline, classified by the drift timeline's transparent classifier and decided.

``Diagnoser`` runs exactly the timeline's per-episode step (``mmgate.lab.timeline.assess``) on the
timeline's lab, so a condition gets the label the timeline gives the equivalent episode. The
condition's failure family is carried as the episode's truth for reporting only; the classifier
never reads it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from mmgate.drift.classifier import BENIGN, RULES_SHA256, UNKNOWN
from mmgate.drift.episodes import Episode, Retrain
from mmgate.drift.features import BaselineSpread
from mmgate.errors import ConfigError
from mmgate.lab import timeline
from mmgate.lab.builtin import ReferenceTrainer
from mmgate.lab.conditions import Condition
from mmgate.reference import DEFAULT_ALIGNER, DEFAULT_TRAINING
from mmgate.world import DEFAULT_WORLD

# The drift class of each condition family (preprocessing drift is a modality's measurement operator).
FAMILY_LABELS: Mapping[str, str] = MappingProxyType({
    "healthy": BENIGN, "dominance": "dominance", "spurious_alignment": "spurious_alignment",
    "pairing_corruption": "pairing_corruption", "collapse": "collapse", "scoring_drift": "scoring_drift",
    "preprocessing_drift": "modality_drift",
})


def episode_of(condition: Condition) -> Episode:
    """The deployment ``condition`` describes as a drift episode: its evaluation world as the current
    data, its temperature scale, a retrain when its training world, aligner or training differ from
    the defaults, and its family's drift class as the (reporting-only) truth."""
    if not isinstance(condition, Condition):
        raise ConfigError(f"condition: expected a Condition, got {type(condition).__name__}")
    changed = (condition.train_world, condition.aligner, condition.training) != (DEFAULT_WORLD, DEFAULT_ALIGNER,
                                                                                  DEFAULT_TRAINING)
    retrain = Retrain(condition.train_world, condition.aligner, condition.training) if changed else None
    return Episode(condition.name, (FAMILY_LABELS[condition.family],), condition.description,
                   eval_world=condition.eval_world, temperature_scale=float(condition.temperature_scale),
                   retrain=retrain)


class Diagnoser:
    """Per-process memo for drift diagnoses: the timeline's lab (worlds, trained models; over the
    run's own ``trainer`` when given, so no model is trained twice), the healthy baseline's spread
    over ``spread_seeds`` (measured once, on first use) and each seed's baseline observation."""

    def __init__(self, spread_seeds: Sequence[int] = timeline.SPREAD_SEEDS,
                 trainer: ReferenceTrainer | None = None) -> None:
        self.spread_seeds = tuple(spread_seeds)
        self._lab = timeline.Lab(trainer)
        self._spread: BaselineSpread | None = None
        self._baselines: dict[int, dict[str, float]] = {}

    @property
    def spread(self) -> BaselineSpread:
        """The healthy baseline's spread over the spread seeds, measured on first use."""
        if self._spread is None:
            self._spread = timeline.measure_spread(self.spread_seeds)
        return self._spread

    def baseline(self, seed: int) -> dict[str, float]:
        """The healthy baseline's observation at ``seed``, observed once."""
        if seed not in self._baselines:
            self._baselines[seed] = timeline.observe(self._lab, timeline.BASELINE, seed)
        return self._baselines[seed]

    def diagnose(self, condition: Condition, seed: int) -> dict[str, Any]:
        """JSON-ready diagnosis of ``condition`` at ``seed``: its episode, features, classification,
        decision, the debug artifact when the drift is unattributed (else None) and the rules' sha256."""
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ConfigError(f"seed: expected a non-negative integer, got {seed!r}")
        ep = episode_of(condition)
        features, result = timeline.assess(self._lab, ep, seed, self.baseline(seed), self.spread)
        return {
            "episode": ep.to_dict(), "features": features.to_dict(), "classification": result.to_dict(),
            "decision": timeline.decide(result),
            "debug": timeline.debug_artifact(ep, seed, features, result) if result.label == UNKNOWN else None,
            "rules_sha256": RULES_SHA256,
        }
