"""Drift episodes of the synthetic drift laboratory (book §3.8): each says how the deployed state
differs from the healthy baseline and which drift class that is, by definition.

A deployment differs from the baseline in up to three ways: the data it now sees (``eval_world``,
whose validation split is the current set; the canary stays the baseline world's test split), the
scoring temperature (``temperature_scale`` times the declared one) and the model (``retrain``: the
aligner retrained, from the same initialisation and batch order, on another world or with another
recipe; the reference trainer has no warm start, so a fine-tune is modelled as a retrain).

The truth labels follow the mechanism that was injected, decided once for the whole timeline:

- a change of one modality's measurement operator on deployed inputs (noise, token corruption,
  preprocessing scale) with the model unchanged is ``modality_drift``;
- a change of the scoring layer only (temperature) is ``scoring_drift``;
- a model retrained on data whose joins are broken (random swaps, offsets) is
  ``pairing_corruption``, whatever symptoms the retrained model shows;
- a model retrained on data where both modalities carry a shared ID marker is
  ``spurious_alignment``, both while the marker is present and after it disappears (the shortcut
  is in the model);
- a model retrained under a regime that crosses the collapse boundary is ``collapse``;
- no broken mechanism is ``benign``: small measurement-noise fluctuations, a population shift both
  modalities report consistently, a routine retrain on the same clean data. Benign is about the
  mechanism; whether a benign loss of current-set retrieval is acceptable is a budget gate's call.

Mixed episodes combine two mechanisms; their truth is both labels.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from mmgate.drift.classifier import BENIGN, CLASSES
from mmgate.errors import ConfigError
from mmgate.reference import (
    DEFAULT_ALIGNER,
    DEFAULT_TRAINING,
    AlignerConfig,
    TrainConfig,
)
from mmgate.world import DEFAULT_WORLD, WorldConfig

KINDS = ("single_axis", "mixed", "benign")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Retrain:
    """A model change: the aligner retrained on ``train_world`` with ``aligner`` and ``training``;
    the training seed is the episode seed plus ``seed_offset`` (0: the baseline's own init and batch
    order, so only the stated change differs)."""

    train_world: WorldConfig = DEFAULT_WORLD
    aligner: AlignerConfig = DEFAULT_ALIGNER
    training: TrainConfig = DEFAULT_TRAINING
    seed_offset: int = 0

    def __post_init__(self) -> None:
        for name, kind in (("train_world", WorldConfig), ("aligner", AlignerConfig), ("training", TrainConfig)):
            if not isinstance(getattr(self, name), kind):
                raise ConfigError(f"Retrain.{name}: expected a {kind.__name__}, got "
                                  f"{type(getattr(self, name)).__name__}")
        offset = self.seed_offset
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise ConfigError(f"Retrain.seed_offset: expected an integer >= 0, got {offset!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready copy."""
        return {"train_world": self.train_world.to_dict(), "aligner": self.aligner.to_dict(),
                "training": self.training.to_dict(), "seed_offset": self.seed_offset}


@dataclass(frozen=True)
class Episode:
    """One drift episode: its name, truth labels (one: single-axis; two or more: mixed;
    ``("benign",)``: benign), why, and how the deployment differs from the baseline."""

    name: str
    truth: tuple[str, ...]
    description: str
    eval_world: WorldConfig = DEFAULT_WORLD
    temperature_scale: float = 1.0
    retrain: Retrain | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise ConfigError(f"Episode.name: expected a lower-case identifier, got {self.name!r}")
        if not isinstance(self.truth, tuple) or not self.truth:
            raise ConfigError(f"Episode {self.name!r}.truth: expected a non-empty tuple of labels, got {self.truth!r}")
        unknown = [t for t in self.truth if t not in CLASSES]
        if unknown:
            raise ConfigError(f"Episode {self.name!r}.truth: {unknown} are not drift classes; expected labels "
                              f"from {list(CLASSES)}")
        if len(set(self.truth)) != len(self.truth) or (BENIGN in self.truth and len(self.truth) > 1):
            raise ConfigError(f"Episode {self.name!r}.truth: expected distinct labels, benign only alone; "
                              f"got {self.truth!r}")
        if not isinstance(self.description, str) or not self.description.strip():
            raise ConfigError(f"Episode {self.name!r}.description: expected a non-empty justification")
        if not isinstance(self.eval_world, WorldConfig):
            raise ConfigError(f"Episode {self.name!r}.eval_world: expected a WorldConfig, got "
                              f"{type(self.eval_world).__name__}")
        scale = self.temperature_scale
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not math.isfinite(scale) \
                or scale <= 0:
            raise ConfigError(f"Episode {self.name!r}.temperature_scale: expected a finite number > 0, "
                              f"got {scale!r}")
        if self.retrain is not None and not isinstance(self.retrain, Retrain):
            raise ConfigError(f"Episode {self.name!r}.retrain: expected a Retrain or None, got "
                              f"{type(self.retrain).__name__}")

    @property
    def kind(self) -> str:
        """``benign``, ``single_axis`` (one failure label) or ``mixed`` (several)."""
        if self.truth == (BENIGN,):
            return "benign"
        return "single_axis" if len(self.truth) == 1 else "mixed"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready copy (world changes listed as the fields that differ from the default world)."""
        base = DEFAULT_WORLD.to_dict()
        changed = {k: v for k, v in self.eval_world.to_dict().items() if base.get(k) != v}
        return {"name": self.name, "truth": list(self.truth), "kind": self.kind, "description": self.description,
                "eval_world_changes": changed, "eval_world_sha256": self.eval_world.sha256(),
                "temperature_scale": float(self.temperature_scale),
                "retrain": None if self.retrain is None else self.retrain.to_dict()}


_W = DEFAULT_WORLD
_BUCKET = _W.replace(confounder="bucket")
_TEXT_CORRUPTION = {"token_substitution": 0.2, "token_dropout": 0.1}
_RISKY_FINE_TUNE = Retrain(aligner=DEFAULT_ALIGNER.replace(temperature=0.02),
                           training=DEFAULT_TRAINING.replace(lr=0.02))

EPISODES: tuple[Episode, ...] = (
    Episode("smooth_benign_drift", (BENIGN,),
            "deployed images carry a little more pixel noise (0.15 -> 0.25) and captions a little more "
            "caption noise (0.02 -> 0.025): measurement noise fluctuating inside the range the aligner "
            "was trained for (augmentation up to 1.2); nothing that drives a failure mechanism changed",
            eval_world=_W.replace(noise_image=0.25, noise_text=0.025)),
    Episode("image_noise_ramp", ("modality_drift",),
            "the image sensor degrades: deployed pixel noise ramps from 0.15 to 1.0 while captions and the "
            "model stay as they were; one modality's measurement operator changed",
            eval_world=_W.replace(noise_image=1.0)),
    Episode("text_token_corruption", ("modality_drift",),
            "the caption pipeline corrupts tokens: 20 % substituted at random and 10 % dropped on deployed "
            "captions, images and model unchanged; one modality's measurement operator changed",
            eval_world=_W.replace(**_TEXT_CORRUPTION)),
    Episode("scoring_temperature", ("scoring_drift",),
            "a downstream scoring service now uses 5x the temperature the model was trained with; the "
            "embeddings are bit-identical, only the scoring layer changed",
            temperature_scale=5.0),
    Episode("confounder_introduction", ("spurious_alignment",),
            "a new data source stamps an 8-code ID bucket marker into both modalities; the model is "
            "retrained on the marked data and deployed on marked data: the marker is a shared shortcut key",
            eval_world=_BUCKET, retrain=Retrain(train_world=_BUCKET)),
    Episode("confounder_removal", ("spurious_alignment",),
            "the marker disappears from the deployed data (a pipeline clean-up) while the model retrained "
            "on marked data stays deployed: the shortcut it learned is still the mechanism",
            retrain=Retrain(train_world=_BUCKET)),
    Episode("pairing_random", ("pairing_corruption",),
            "a partial join bug: the model is retrained on data where 30 % of the captions are swapped "
            "among their rows at random",
            retrain=Retrain(train_world=_W.replace(pairing="swap", pairing_rate=0.3))),
    Episode("pairing_offset", ("pairing_corruption",),
            "a systematic off-by-one join: the model is retrained on data where every caption is joined to "
            "the next row's image; whatever the retrained model looks like, the cause is the pairing",
            retrain=Retrain(train_world=_W.replace(pairing="offset", pairing_offset=1))),
    Episode("preprocessing_scale", ("modality_drift",),
            "an image normalisation change: deployed images are scaled by 2 and shifted by +0.5 before "
            "the model; the image measurement operator changed, captions and model did not",
            eval_world=_W.replace(image_scale=2.0, image_shift=0.5)),
    Episode("orientation_domain_shift", ("benign",),
            "the population shifts: half of the deployed items take one of two orientations; both "
            "modalities report the same latent items faithfully, the model and scoring are unchanged and "
            "the canary is intact, so no mechanism broke (current retrieval gets harder, a budget matter)",
            eval_world=_W.replace(orient_concentration=0.5)),
    Episode("collapse_fine_tune", ("collapse",),
            "a risky fine-tuning regime, lower temperature (0.02) and ten times the learning rate (0.02), "
            "crosses the collapse boundary: canary embeddings crowd into a cone on fewer directions",
            retrain=_RISKY_FINE_TUNE),
    Episode("routine_retrain", (BENIGN,),
            "a routine model refresh: retrained on the same clean data with a fresh initialisation and "
            "batch order; the space is re-learned but no mechanism broke",
            retrain=Retrain(seed_offset=1000)),
    Episode("mixed_noise_and_temperature", ("modality_drift", "scoring_drift"),
            "image noise ramps to 1.0 while the scoring service flattens its scores with 5x the "
            "temperature: a modality drift and a scoring drift at once",
            eval_world=_W.replace(noise_image=1.0), temperature_scale=5.0),
    Episode("mixed_confounder_and_pairing", ("spurious_alignment", "pairing_corruption"),
            "contradictory supervision: the retraining data carries a parity ID marker in both modalities "
            "and 30 % of its captions are swapped; deployed data carries the marker",
            eval_world=_W.replace(confounder="parity"),
            retrain=Retrain(train_world=_W.replace(confounder="parity", pairing="swap", pairing_rate=0.3))),
    Episode("mixed_collapse_and_text_corruption", ("collapse", "modality_drift"),
            "the risky fine-tune of collapse_fine_tune is deployed while the caption pipeline corrupts "
            "tokens (20 % substituted, 10 % dropped)",
            eval_world=_W.replace(**_TEXT_CORRUPTION), retrain=_RISKY_FINE_TUNE),
)


def episode(name: str) -> Episode:
    """The episode called ``name``; unknown names are rejected with the known ones listed."""
    for ep in EPISODES:
        if ep.name == name:
            return ep
    raise ConfigError(f"episode {name!r} is unknown; expected one of {[e.name for e in EPISODES]}")
