"""Interventions that need no training, for any gated subject (a user's or the built-in one): the
bounded policy of book §3.7 driven by the gates that failed in a ``pytest --mmgate`` run.

The diagnosis is the failing gates themselves, and each action's minimum evidence is the failing
gate's own evidence (measured in that run, read from its result):

- ``temperature_calibration`` failed with a fitted temperature the canary pins down -> temperature
  recalibration: the scoring temperature set to the canary's InfoNCE-optimal one (the gate's own
  fit); no embedding changes (checked on a probe of canary rows);
- ``input_drift`` failed for the image inputs and the canary's per-channel preprocessing constants
  (mean, standard deviation) differ from the training profile's -> input renormalisation: the
  canary inputs mapped back onto the training constants (refused when, standardised, the two pixel
  distributions still differ: that drift is not a change of constants; refused for caption drift,
  which has no constant to restore);
- ``pair_audit`` failed -> pairing sanitation of the declared training pairs: mutual-nearest-neighbour
  and similarity-consistency filters (``actions.sanitation_masks``), reporting how many pairs are
  kept and flagged (refused when too few survive: a systematically broken join).

A collapse gate (``mean_cosine``, ``effective_rank``, ``direction_energy``) failed -> limited
fine-tuning on the declared training pairs, only when the encoder offers the training hook
(``mmgate.subjects.trainable.TrainableEncoder``): K steps under stop rules with rollback
(``hooked``); refused otherwise, naming the hook. Any other failing gate has no permitted action:
its cause is ``unknown`` to this policy and it escalates, never acts. An approved run has nothing
to do.

The functions here are pure over a ``Subject`` (they return a new subject, never touch the given
one); re-measuring with the gates' own measurement functions is the plugin's part
(``mmgate.plugin.intervene``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from mmgate.drift.profiles import compute_dataset_profile
from mmgate.errors import InputError
from mmgate.lab.interventions.actions import (
    _jsd_bits,
    _standardised_hist,
    sanitation_masks,
)
from mmgate.lab.interventions.config import DEFAULT_INTERVENTION, InterventionConfig
from mmgate.lab.interventions.policy import Action, Decision
from mmgate.perturb.base import replaced
from mmgate.subjects.paired import row_slice
from mmgate.subjects.subject import Subject

# failing gate -> (label, action, minimum evidence terms, what they mean)
TRAINING_FREE: Mapping[str, tuple[str, str, tuple[str, ...], str]] = {
    "temperature_calibration": ("scoring_drift", "temperature_recalibration",
                                ("temperature_gate_failed", "fitted_temperature_pinned"),
                                "the temperature-calibration gate failed with a temperature the canary pins down"),
    "input_drift": ("modality_drift", "input_renormalisation",
                    ("image_input_drift", "preprocessing_constants_differ"),
                    ("the image input-drift gate failed and the canary's preprocessing constants (per-channel mean "
                     "and standard deviation) differ from the training profile's")),
    "pair_audit": ("pairing_corruption", "pairing_sanitation", ("pair_audit_failed", "suspect_fraction_measured"),
                   ("the training-pair audit failed with its measured share of suspect pairs (pairing-drift "
                    "indicator)")),
}
COLLAPSE_GATES = ("mean_cosine", "effective_rank", "direction_energy")
FINE_TUNE = ("collapse", "limited_fine_tune", ("collapse_gate_failed", "training_hook", "training_pairs_declared"),
             ("a collapse gate failed and the subject offers a training hook (TrainableEncoder: fine_tune, state_dict, "
              "load) and declares training pairs to fine-tune on"))
PROBE_ROWS = 64
SANITATION_MAX_PAIRS = 4096


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _fired(gate: str, cases: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
    """The evidence terms the failing cases of ``gate`` (result JSON) support."""
    failed = [c for c in cases if c["status"] == "failed"]
    terms: list[str] = []
    if gate == "temperature_calibration":
        if failed:
            terms.append("temperature_gate_failed")
        if failed and all(_finite(c["evidence"].get("fitted_temperature"))
                          and not c["evidence"].get("at_bound", True) for c in failed):
            terms.append("fitted_temperature_pinned")
    elif gate == "input_drift":
        for c in failed:
            modality = c["params"].get("modality")
            terms.append(f"{modality}_input_drift")
            if modality == "image" and _constants_differ(c["evidence"]):
                terms.append("preprocessing_constants_differ")
    elif gate == "pair_audit":
        if failed:
            terms.append("pair_audit_failed")
        if failed and all(_finite(c["evidence"].get("suspect_fraction")) for c in failed):
            terms.append("suspect_fraction_measured")
    return tuple(dict.fromkeys(terms))


def _constants_differ(evidence: Mapping[str, Any]) -> bool:
    stats = (evidence.get("comparison") or {}).get("statistics") or {}
    means, stds = stats.get("channel_means") or {}, stats.get("channel_stds") or {}
    try:
        pairs = [(float(a), float(b)) for a, b in (*zip(means["reference"], means["new"]),
                                                    *zip(stds["reference"], stds["new"]))]
    except (KeyError, TypeError, ValueError):
        return False
    return any(abs(a - b) > 1e-9 * max(1.0, abs(a)) for a, b in pairs)


def action_of(gate: str) -> tuple[str, str, tuple[str, ...], str] | None:
    """(label, action, minimum evidence terms, their meaning) of a failing gate, or None: no action."""
    return FINE_TUNE if gate in COLLAPSE_GATES else TRAINING_FREE.get(gate)


def decide_gate(gate: str, cases: Sequence[Mapping[str, Any]], trainable: bool = False,
                training: bool = False, config: InterventionConfig = DEFAULT_INTERVENTION
                ) -> tuple[str, tuple[str, ...], Decision]:
    """(label, fired evidence terms, decision) for the failing (or errored) cases of one gate;
    ``trainable`` and ``training``: the subject offers the training hook and declares training pairs."""
    if action_of(gate) is None:
        statuses = sorted({c["status"] for c in cases})
        return "unknown", (), Decision(
            "escalate", f"{gate} {'/'.join(statuses)}: no permitted action is defined for it, so its "
                        "cause is unknown to this policy; escalated for review, never acted on")
    label, name, required, text = action_of(gate)
    fired = _fired(gate, cases)
    if gate in COLLAPSE_GATES:
        fired = tuple(term for term, present in (("collapse_gate_failed", any(c["status"] == "failed" for c in cases)),
                                                 ("training_hook", trainable), ("training_pairs_declared", training))
                      if present)
    if not all(term in fired for term in required):
        return label, fired, Decision(
            "refuse", f"{label}: the action {name} requires that {text}; the evidence found {list(fired)} does not "
                      "meet it, so it is refused and escalated", None, (required,), fired)
    params = {"modality": "image"} if name == "input_renormalisation" else {}
    steps = config.fine_tune_steps if name == "limited_fine_tune" else 0
    return label, fired, Decision("act", f"{label}: {text} ({' and '.join(required)}); permitted action {name}",
                                  Action(name, params, steps), (required,), required)


# ---- actions on a subject ----------------------------------------------------------------------


class ScoringTemperature:
    """The subject's encoder with another scoring temperature: embeddings are the encoder's own."""

    def __init__(self, encoder: Any, temperature: float) -> None:
        self.encoder = encoder
        self.temperature = float(temperature)

    def embed_images(self, batch: Any) -> np.ndarray:
        return self.encoder.embed_images(batch)

    def embed_texts(self, batch: Any) -> np.ndarray:
        return self.encoder.embed_texts(batch)

    def identity(self) -> dict[str, Any]:
        """The wrapped encoder's identity (same weights, same embeddings) and the new temperature."""
        method = getattr(self.encoder, "identity", None)
        base = method() if callable(method) else {"name": type(self.encoder).__name__}
        return {**base, "scoring_temperature": self.temperature}


def recalibrate_temperature(subject: Subject, fitted: float) -> tuple[Subject, dict[str, Any]]:
    """``subject`` scored at the canary's fitted temperature; the embeddings of a probe of canary rows
    are compared byte for byte before and after."""
    before = float(subject.encoder.temperature)
    encoder = ScoringTemperature(subject.encoder, fitted)
    new = dataclasses.replace(subject, encoder=encoder)
    k = min(PROBE_ROWS, len(subject.canary))
    same = all(np.array_equal(np.asarray(getattr(subject.encoder, m)(row_slice(getattr(subject.canary, f), 0, k))),
                              np.asarray(getattr(encoder, m)(row_slice(getattr(subject.canary, f), 0, k))))
               for m, f in (("embed_images", "images"), ("embed_texts", "texts")))
    return new, {"statistic": "InfoNCE-optimal temperature of the canary (the gate's own fit)",
                 "temperature_before": before, "temperature_after": float(fitted), "factor": float(fitted) / before,
                 "embeddings_unchanged": bool(same), "probe_rows": k}


def _channel_axis(layout: str) -> int | None:
    return {"NHW": None, "NCHW": 1, "NHWC": 3}[layout]


def _sample(images: np.ndarray, seed: int, n: int = 1000) -> np.ndarray:
    if images.shape[0] <= n:
        return images
    rows = np.sort(np.random.default_rng(seed).choice(images.shape[0], size=n, replace=False))
    return images[rows]


def renormalise_inputs(subject: Subject, config: InterventionConfig, seed: int = 0) -> tuple[Subject | None,
                                                                                              dict[str, Any]]:
    """The canary's image inputs restored to the training profile's per-channel constants:
    x -> (x - mean_canary) * std_training / std_canary + mean_training; ``None`` (refused) when the
    inputs are not float pixel arrays or when, standardised, the two pixel distributions still differ."""
    details: dict[str, Any] = {"modality": "image"}
    canary, training = subject.canary.images, None if subject.training is None else subject.training.images
    if not all(isinstance(a, np.ndarray) and a.dtype.kind == "f" for a in (canary, training)):
        details["refusal"] = ("the canary and training images are not both float pixel arrays (image paths, lazy "
                              "rows or integer pixels): renormalising them would need a re-quantised or decoded "
                              "copy; fix the preprocessing in the pipeline (escalation)")
        return None, details
    try:
        ref = compute_dataset_profile(training, "vision", seed=seed)
        cur = compute_dataset_profile(canary, "vision", seed=seed)
    except InputError as exc:
        details["refusal"] = f"the image inputs cannot be profiled: {exc}"
        return None, details
    mean_r, std_r = np.asarray(ref["channel_means"]), np.asarray(ref["channel_stds"])
    mean_c, std_c = np.asarray(cur["channel_means"]), np.asarray(cur["channel_stds"])
    if np.any(std_c <= 0) or mean_r.shape != mean_c.shape:
        details["refusal"] = "the canary has a constant channel or a different channel count: no affine map restores it"
        return None, details
    gain = std_r / std_c
    offset = mean_r - mean_c * gain
    axis = _channel_axis(cur["layout"])
    shape = [1] * canary.ndim
    if axis is not None:
        shape[axis] = gain.size
    fixed = (canary.astype(np.float64) * gain.reshape(shape) + offset.reshape(shape)).astype(canary.dtype)
    shape_jsd = _jsd_bits(_standardised_hist(_sample(training, seed), config.renorm_bins),
                          _standardised_hist(_sample(fixed, seed), config.renorm_bins))
    details.update(layout=cur["layout"], training_profile={"channel_means": mean_r.tolist(),
                                                           "channel_stds": std_r.tolist()},
                   canary_profile={"channel_means": mean_c.tolist(), "channel_stds": std_c.tolist()},
                   gain=gain.tolist(), offset=offset.tolist(), standardised_shape_jsd_bits=shape_jsd,
                   max_shape_jsd_bits=config.max_renorm_shape_jsd)
    if shape_jsd > config.max_renorm_shape_jsd:
        details["refusal"] = (f"after restoring the constants the standardised pixel distributions still differ "
                              f"(JSD {shape_jsd:.3f} > {config.max_renorm_shape_jsd} bits): the drift is not an "
                              "affine change of preprocessing constants, so renormalisation cannot restore it")
        return None, details
    c = subject.canary
    canary_fixed = dataclasses.replace(replaced(c, images=fixed), name=f"{c.name}-renormalised")
    return dataclasses.replace(subject, canary=canary_fixed), details


def sanitise_pairs(subject: Subject, z_img: np.ndarray, z_txt: np.ndarray, config: InterventionConfig,
                   seed: int = 0) -> tuple[Subject | None, dict[str, Any]]:
    """The declared training pairs filtered (mutual nearest neighbours or similarity-consistent at
    ``config.sanitation_percentile``) on the subject's own embeddings of them (at most
    ``SANITATION_MAX_PAIRS``, a seeded sample, like the audit); the subject with the kept pairs as
    its training set, or ``None`` (refused) when under ``config.min_keep_fraction`` survive."""
    assert subject.training is not None
    n = z_img.shape[0]
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x5A]))
    rows = np.sort(rng.choice(n, size=SANITATION_MAX_PAIRS, replace=False)) if n > SANITATION_MAX_PAIRS \
        else np.arange(n)
    found = sanitation_masks(z_img[rows], z_txt[rows], config.sanitation_percentile)
    keep = found.pop("keep")
    flagged = rows[~keep]
    details: dict[str, Any] = {"filter": {**found, "total_pairs": int(n), "filtered_pairs": int(rows.size)},
                               "kept": int(keep.sum()), "flagged": int(flagged.size),
                               "flagged_rows": [int(i) for i in flagged[:1000]],
                               "flagged_rows_listed": int(min(flagged.size, 1000)),
                               "precision_recall": "not available: a user's training pairs carry no known corruption",
                               "model_changed": False}
    if found["kept_fraction"] < config.min_keep_fraction:
        details["refusal"] = (f"only {found['kept_fraction']:.2f} of the training pairs pass the filters "
                              f"(< {config.min_keep_fraction}): the join looks systematically broken and no clean "
                              "subset remains; fix the join (escalation)")
        return None, details
    kept = subject.training.take(rows[keep])
    kept = dataclasses.replace(kept, name=f"{subject.training.name}-sanitised")
    return dataclasses.replace(subject, training=kept), details


__all__ = ["COLLAPSE_GATES", "FINE_TUNE", "TRAINING_FREE", "ScoringTemperature", "action_of", "decide_gate", "recalibrate_temperature", "renormalise_inputs",
           "sanitise_pairs"]
