"""The monitoring profile of one seed (what a baseline stores) and its comparison with a later run.

A profile holds the panel metrics with their bootstrap intervals, the canary's input profiles,
the retrieved-target (output) profile and a seeded sample of unit embeddings, all JSON-ready, so
a later run can be judged against it without pickles or the old model.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

from mmgate.drift.aggregate import DEFAULT_AGGREGATE, aggregate_all
from mmgate.drift.budgets import (
    DEFAULT_BUDGETS,
    Budget,
    BudgetCheck,
    check_change,
    check_divergence,
)
from mmgate.drift.embedding_drift import joint_pair_drift
from mmgate.drift.errors import BaselineError
from mmgate.drift.profiles import compare_profiles, compute_dataset_profile
from mmgate.errors import ConfigError, InputError
from mmgate.panel.validate import unit_rows

SAMPLE_ROWS = 256
SAMPLE_STREAM = 0x5A3
MMD_PERMUTATIONS = 200
_DECIMALS = 6
# gate modality -> (profile modality, PairedSet field)
PROFILED: Mapping[str, tuple[str, str]] = MappingProxyType({"image": ("vision", "images"), "text": ("text", "texts")})
# the panel metrics every profile holds: those the change budgets compare
CHANGE_METRICS: tuple[str, ...] = tuple(b.metric for b in DEFAULT_BUDGETS if b.kind != "divergence")


def sample_rows(n: int, seed: int) -> np.ndarray:
    """The canary rows whose embeddings a profile keeps: a seeded sample of at most SAMPLE_ROWS."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, SAMPLE_STREAM]))
    return np.sort(rng.choice(n, size=min(SAMPLE_ROWS, n), replace=False))


def _input_profile(items: Any, modality: str, seed: int) -> dict[str, Any]:
    """The modality's input profile, or why its inputs cannot be profiled."""
    kind = PROFILED[modality][0]
    try:
        return {"profile": compute_dataset_profile(items, kind, seed=seed)}
    except InputError as exc:
        return {"unavailable": str(exc)}


def _metric(value: float, ci: tuple[float, float] | None = None) -> dict[str, Any]:
    return {"value": float(value), "ci": None if ci is None else [float(ci[0]), float(ci[1])]}


def panel_metrics(measured: Any) -> dict[str, dict[str, Any]]:
    """The monitored panel metrics of one seed, with bootstrap intervals where the panel has them."""
    top1_i2t = measured.recall("image_to_text", 1)
    top1_t2i = measured.recall("text_to_image", 1)
    gap = measured.symmetry_gap()
    out = {"retrieval_top1_i2t": _metric(*top1_i2t), "retrieval_top1_t2i": _metric(*top1_t2i),
           "symmetry_gap": _metric(*gap)}
    for modality in ("image", "text"):
        geometry = measured.geometry(modality)
        out[f"mean_cosine_{modality}"] = _metric(geometry["mean_cosine"])
        out[f"effective_rank_{modality}"] = _metric(geometry["effective_rank"])
        out[f"rankme_share_{modality}"] = _metric(geometry["rankme_share"])
    out["hubness_i2t"] = _metric(measured.hubness("image_to_text")["concentration"])
    out["hubness_t2i"] = _metric(measured.hubness("text_to_image")["concentration"])
    divergence = measured.divergence()
    out["rank_divergence"] = _metric(divergence["rank_divergence"])
    out["norm_divergence"] = _metric(divergence["norm_divergence"])
    return out


def monitoring_profile(subject: Any, measured: Any, seed: int) -> dict[str, Any]:
    """Everything a baseline keeps of one seed's run (see the module docstring)."""
    canary = subject.canary
    z_img, z_txt = measured.embeddings.z_img, measured.embeddings.z_txt
    rows = sample_rows(len(canary), seed)
    return {
        "seed": int(seed),
        "subject": {"name": subject.name, "identity": subject.identity()},
        "dimension": int(z_img.shape[1]),
        "canary": {"name": canary.name, "pairs": len(canary), "fingerprint": canary.fingerprint()},
        "metrics": panel_metrics(measured),
        "inputs": {modality: _input_profile(getattr(canary, PROFILED[modality][1]), modality, seed)
                   for modality in PROFILED},
        "outputs": compute_dataset_profile(np.asarray(measured.ranks.i2t_top1), "output", seed=seed),
        "embeddings": {
            "rows": rows.tolist(),
            "image": np.round(unit_rows(z_img[rows], "z_img", np.float64), _DECIMALS).tolist(),
            "text": np.round(unit_rows(z_txt[rows], "z_txt", np.float64), _DECIMALS).tolist(),
        },
    }


def check_profile(profile: Mapping[str, Any], dimension: int) -> None:
    """Raise InputError unless a stored profile holds what the comparisons read: every change metric,
    usable input and output profiles, and the embedding sample its canary size and seed imply."""
    missing = [metric for metric in CHANGE_METRICS if metric not in profile["metrics"]]
    if missing:
        raise InputError(f"metrics: missing {missing}")
    stored = {f"inputs.{modality}": entry["profile"] for modality, entry in profile["inputs"].items()
              if "profile" in entry}
    for field, data in {**stored, "outputs": profile["outputs"]}.items():
        try:
            compare_profiles(data, data)
        except InputError as exc:
            raise InputError(f"{field}: {exc}") from exc
    embeddings = profile["embeddings"]
    expected = sample_rows(profile["canary"]["pairs"], profile["seed"]).tolist()
    if embeddings["rows"] != expected:
        raise InputError(f"embeddings.rows: not the {len(expected)} rows a canary of {profile['canary']['pairs']} "
                         f"pairs samples at seed {profile['seed']}")
    for modality in ("image", "text"):
        shape = np.shape(embeddings[modality])
        if shape != (len(expected), dimension):
            raise InputError(f"embeddings.{modality}: expected shape ({len(expected)}, {dimension}), got {shape}")


def _same_canary(baseline: Mapping[str, Any], current: Mapping[str, Any]) -> None:
    """Item-wise comparisons need the run's canary to be the baseline's rows (their content may drift)."""
    old, new = baseline["canary"], current["canary"]
    if (old["name"], old["pairs"]) != (new["name"], new["pairs"]):
        raise InputError(f"the run's canary ({new['name']!r}, {new['pairs']} pairs) is not the baseline's "
                         f"({old['name']!r}, {old['pairs']} pairs), so its rows cannot be compared item by item")


def _item_shift(baseline: Mapping[str, Any], current: Mapping[str, Any], modality: str) -> dict[str, Any]:
    """Per-item cosine distance between the baseline and current embeddings of the same canary rows."""
    _same_canary(baseline, current)
    old = np.asarray(baseline["embeddings"][modality])
    new = np.asarray(current["embeddings"][modality])
    distances = 1.0 - np.clip(np.einsum("ij,ij->i", old, new), -1.0, 1.0)
    return aggregate_all(distances)


def _input_drift(baseline: Mapping[str, Any], current: Mapping[str, Any], modality: str) -> dict[str, Any]:
    """Profile comparison of one modality's inputs; profilable on one side only is itself a change
    the baseline cannot vouch for (BaselineError), on neither side the budget does not apply."""
    old, new = baseline["inputs"][modality], current["inputs"][modality]
    if "profile" not in old and "profile" not in new:
        raise InputError(f"the {modality} inputs cannot be profiled: {new['unavailable']}")
    if "profile" not in old or "profile" not in new:
        side, entry = ("baseline", old) if "profile" not in old else ("run", new)
        raise BaselineError(f"the {side}'s {modality} inputs could not be profiled ({entry['unavailable']}) but "
                            f"the other side's could: the baseline does not describe this data")
    return compare_profiles(old["profile"], new["profile"])


def judge(budget: Budget, baseline: Mapping[str, Any], current: Mapping[str, Any], seed: int) -> tuple[BudgetCheck, dict]:
    """The budget judged on one seed's baseline and current profiles, with the comparison's details."""
    metric = budget.metric
    if metric in CHANGE_METRICS:
        old, new = baseline["metrics"][metric], current["metrics"][metric]
        ci = tuple(new["ci"]) if new["ci"] is not None else None
        return check_change(budget, old["value"], new["value"], ci), {"baseline": old, "current": new}
    if metric.startswith("embedding_shift_"):
        shift = _item_shift(baseline, current, metric.rsplit("_", 1)[1])
        return check_divergence(budget, shift[budget.aggregate or DEFAULT_AGGREGATE]), {"per_item_distance": shift}
    if metric == "embedding_mmd_joint":
        old, new = baseline["embeddings"], current["embeddings"]
        drift = joint_pair_drift(np.asarray(old["image"]), np.asarray(old["text"]), np.asarray(new["image"]),
                                 np.asarray(new["text"]), seed=seed, permutations=MMD_PERMUTATIONS)
        return check_divergence(budget, drift["joint"]["mmd"]["relative_mmd"]), {"embedding_drift": drift}
    if metric.startswith("input_drift_"):
        comparison = _input_drift(baseline, current, metric.rsplit("_", 1)[1])
        return check_divergence(budget, comparison["max_drift"]), {"comparison": comparison}
    if metric == "output_drift":
        comparison = compare_profiles(baseline["outputs"], current["outputs"])
        return check_divergence(budget, comparison["drift_scores"]["class_jsd"]), {"comparison": comparison}
    raise ConfigError(f"drift metric {metric!r}: no comparison is defined for it")
