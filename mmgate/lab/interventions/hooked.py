"""Limited fine-tuning of a gated subject through its training hook (book §3.7.5): at most K steps,
driven by mmgate in chunks, the stop rules checked on the subject's own embeddings of a monitor set
after every chunk, and rollback to the last healthy checkpoint, verified byte for byte.

The encoder only trains and serialises (``mmgate.subjects.trainable.TrainableEncoder``); the bounds
come from two hashed sources fixed before the run: the intensity (K, steps, learning rate, chunk,
margins) from ``InterventionConfig``, the health limits from the run's contract (mean-cosine
ceiling, top-direction energy ceiling, effective-rank floor). A limit the starting model already
violates is relaxed to its starting value plus the configured margin: a fine-tune may not make a
violated measure worse, and it stops the moment one does.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from mmgate import panel
from mmgate.gating.contract import Contract
from mmgate.lab.interventions.config import InterventionConfig
from mmgate.subjects.paired import PairedSet, row_slice

RULES = ("nan", "mean_cosine_ceiling", "direction_energy_ceiling", "effective_rank_floor")


@dataclass(frozen=True)
class HookStopRules:
    """The limits one hooked fine-tune is stopped by (after relaxing those the start violates)."""

    max_mean_cosine: float
    max_direction_energy: float
    min_effective_rank: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def _embedded(encoder: Any, monitor: PairedSet, batch_size: int) -> dict[str, np.ndarray]:
    """Both modalities of ``monitor`` through ``encoder``, in batches, as float64."""
    out = {}
    for modality, method, field in (("image", "embed_images", "images"), ("text", "embed_texts", "texts")):
        items, n = getattr(monitor, field), len(monitor)
        blocks = [np.asarray(getattr(encoder, method)(row_slice(items, s, min(s + batch_size, n))), dtype=np.float64)
                  for s in range(0, n, batch_size)]
        out[modality] = np.concatenate(blocks, axis=0)
    return out


def readings(encoder: Any, monitor: PairedSet, batch_size: int = 256) -> dict[str, float]:
    """The stop rules' readings on ``monitor``, worse modality each: mean cosine, top-direction energy,
    effective rank; all NaN when an embedding is not finite."""
    z = _embedded(encoder, monitor, batch_size)
    if not all(np.isfinite(v).all() and np.any(v) for v in z.values()):
        return {"mean_cosine": math.nan, "direction_energy": math.nan, "effective_rank": math.nan}
    return {"mean_cosine": max(panel.mean_cosine(v) for v in z.values()),
            "direction_energy": max(panel.top_eigen_share(v, k=1) for v in z.values()),
            "effective_rank": min(panel.effective_rank(v) for v in z.values())}


def stop_rules(start: Mapping[str, float], contract: Contract, n: int, d: int,
               config: InterventionConfig) -> HookStopRules:
    """The contract's health limits for a monitor set of ``n`` rows in ``d`` dimensions, each relaxed
    to the start's reading plus the configured margin when the start already violates it."""
    cosine = contract.max_mean_cosine if contract.max_mean_cosine is not None else 1.0
    energy = contract.max_direction_energy if contract.max_direction_energy is not None else 1.0
    floor = contract.effective_rank_floor(n, d)[0] or 0.0
    return HookStopRules(max(cosine, start["mean_cosine"] + config.stop_margin_cosine),
                         max(energy, start["direction_energy"] + config.stop_margin_cosine),
                         min(floor, start["effective_rank"] - config.stop_margin_rank))


def fired_rules(reading: Mapping[str, float], rules: HookStopRules) -> list[str]:
    """The stop rules ``reading`` violates (``nan`` alone when any reading is not finite)."""
    if not all(math.isfinite(v) for v in reading.values()):
        return ["nan"]
    checks = (("mean_cosine_ceiling", reading["mean_cosine"] > rules.max_mean_cosine),
              ("direction_energy_ceiling", reading["direction_energy"] > rules.max_direction_energy),
              ("effective_rank_floor", reading["effective_rank"] < rules.min_effective_rank))
    return [name for name, violated in checks if violated]


def _sha(state: bytes) -> str:
    return hashlib.sha256(state).hexdigest()


def hooked_fine_tune(encoder: Any, pairs: PairedSet, monitor: PairedSet, contract: Contract,
                     config: InterventionConfig, seed: int, lr: float | None = None) -> tuple[Any, dict[str, Any]]:
    """At most ``config.fine_tune_steps`` (<= K) steps of ``encoder.fine_tune`` on ``pairs`` in chunks of
    ``config.checkpoint_every``; after each chunk the stop rules are read on ``monitor``. When one fires,
    the run stops and the last healthy checkpoint is loaded back and checked byte-identical. Returns
    the resulting encoder and the record of what happened (trace, rules, rollback)."""
    lr = config.lr if lr is None else lr
    checkpoint = encoder.state_dict()
    start = readings(encoder, monitor)
    d = int(np.asarray(encoder.embed_texts(row_slice(monitor.texts, 0, 1))).shape[1])
    rules = stop_rules(start, contract, len(monitor), d, config)
    current, taken, trace, fired = encoder, 0, [], []
    healthy = {"step": 0, "sha256": _sha(checkpoint)}
    for chunk, begin in enumerate(range(0, config.fine_tune_steps, config.checkpoint_every)):
        steps = min(config.checkpoint_every, config.fine_tune_steps - begin)
        candidate = current.fine_tune(pairs, steps, lr, seed * 1000 + chunk)
        reading = readings(candidate, monitor)
        fired = fired_rules(reading, rules)
        trace.append({"step": begin + steps, **{k: (v if math.isfinite(v) else None) for k, v in reading.items()},
                      "fired": fired})
        if fired:
            break
        current, taken = candidate, begin + steps
        checkpoint = current.state_dict()
        healthy = {"step": taken, "sha256": _sha(checkpoint)}
    record: dict[str, Any] = {"steps_requested": config.fine_tune_steps, "max_steps": config.max_steps,
                              "chunk": config.checkpoint_every, "lr": lr, "seed": seed, "steps_taken": taken,
                              "start": start, "stop_rules": rules.to_dict(), "rules_checked": list(RULES),
                              "trace": trace, "stopped": bool(fired), "fired": fired, "rolled_back": False}
    if fired:
        restored = encoder.load(checkpoint)
        record.update(rolled_back=True, rollback={"to_step": healthy["step"], "checkpoint_sha256": healthy["sha256"],
                                                  "byte_identical": restored.state_dict() == checkpoint})
        current = restored
    record["final_sha256"] = _sha(current.state_dict())
    return current, record


__all__ = ["RULES", "HookStopRules", "fired_rules", "hooked_fine_tune", "readings", "stop_rules"]
