"""Feature vector of one (baseline, current) comparison (book §3.6.1): the monitoring metrics of a
deployment on the stable canary set and on the current set, raw deltas against the baseline, and
the deltas normalised by the baseline's spread over seed repeats.

An observation is a flat mapping of metric name to value, in three groups:

- ``canary.<metric>``: the deployed model on the stable canary set (the baseline's evaluation
  items): it moves only when the model or its scoring changed;
- ``current.<metric>``: the deployed model on the current evaluation set (what it sees now);
- ``compare.<metric>``: comparisons of the two sets under the deployed model (input-profile and
  embedding drift per modality), counterfactual marker probes, the training-pair audit, and how far
  the canary embeddings moved away from the baseline model's.

A zero spread (a metric every baseline repeat agrees on exactly, e.g. the canary shift of the
baseline against itself) is floored per metric, so a normalised delta never divides by zero.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from mmgate.drift.domain_classifier import domain_classifier_auc
from mmgate.drift.embedding_drift import centroid_shift
from mmgate.drift.profiles import compare_profiles, compute_dataset_profile
from mmgate.errors import InputError
from mmgate.panel import (
    coordinate_variance,
    effective_rank,
    hubness,
    mean_cosine,
    mi_proxy,
    norm_divergence,
    norm_stats,
    rank_divergence,
    retrieval_metrics,
)
from mmgate.panel.pair_audit import audit_pairs
from mmgate.panel.probes import cca_proxy
from mmgate.panel.temperature import fit_temperature
from mmgate.panel.validate import embedding_pair, unit_rows
from mmgate.world import PAD

SET_METRICS: tuple[str, ...] = (
    "i2t_top1", "t2i_top1", "top1", "top5", "symmetry_gap", "abs_symmetry_gap",
    "mean_cos_img", "mean_cos_txt", "mean_cos_max", "eff_rank_img", "eff_rank_txt", "eff_rank_min",
    "rank_divergence", "var_p5_img", "var_p5_txt", "var_p5_min", "norm_mean_img", "norm_mean_txt",
    "norm_cv_img", "norm_cv_txt", "abs_log_norm_ratio", "hub_i2t", "hub_t2i", "hub_max",
    "mi_factor_img", "mi_factor_txt", "mi_factor_min", "mi_confounder_img", "mi_confounder_txt",
    "mi_confounder_max", "cca", "log_temperature_ratio",
)
COMPARE_METRICS: tuple[str, ...] = (
    "input_drift_img", "input_drift_txt", "embedding_drift_img", "embedding_drift_txt",
    "centroid_effect_img", "centroid_effect_txt", "marker_reliance", "marker_removal_drop",
    "pair_audit_suspect", "canary_shift_img", "canary_shift_txt", "canary_shift_max",
)
# Smallest spread a normalised delta divides by, per metric: about the smallest change worth noticing
# on a 256-item set (one item of retrieval is 0.004).
SPREAD_FLOORS: Mapping[str, float] = MappingProxyType({
    "i2t_top1": 0.004, "t2i_top1": 0.004, "top1": 0.004, "top5": 0.004, "symmetry_gap": 0.004,
    "abs_symmetry_gap": 0.004, "mean_cos_img": 0.002, "mean_cos_txt": 0.002, "mean_cos_max": 0.002,
    "eff_rank_img": 0.1, "eff_rank_txt": 0.1, "eff_rank_min": 0.1, "rank_divergence": 0.005,
    "var_p5_img": 1e-5, "var_p5_txt": 1e-5, "var_p5_min": 1e-5, "norm_mean_img": 0.01, "norm_mean_txt": 0.001,
    "norm_cv_img": 0.002, "norm_cv_txt": 0.002, "abs_log_norm_ratio": 0.01, "hub_i2t": 0.002,
    "hub_t2i": 0.002, "hub_max": 0.002, "mi_factor_img": 0.002, "mi_factor_txt": 0.002,
    "mi_factor_min": 0.002, "mi_confounder_img": 0.002, "mi_confounder_txt": 0.002,
    "mi_confounder_max": 0.002, "cca": 0.002, "log_temperature_ratio": 0.01,
    "input_drift_img": 0.005, "input_drift_txt": 0.005, "embedding_drift_img": 0.01,
    "embedding_drift_txt": 0.01, "centroid_effect_img": 0.01, "centroid_effect_txt": 0.01,
    "marker_reliance": 0.004, "marker_removal_drop": 0.004, "pair_audit_suspect": 0.004,
    "canary_shift_img": 0.001, "canary_shift_txt": 0.001, "canary_shift_max": 0.001,
})
FEATURE_NAMES: tuple[str, ...] = (*(f"canary.{m}" for m in SET_METRICS), *(f"current.{m}" for m in SET_METRICS),
                                  *(f"compare.{m}" for m in COMPARE_METRICS))
MI_BINS = 10
MI_DIMS = 10
HUBNESS_K = 10
CCA_TOPK = 10
DRIFT_FOLDS = 5


def _finite(value: float, name: str) -> float:
    out = float(value)
    if not math.isfinite(out):
        raise InputError(f"{name}: expected a finite value, got {value!r}")
    return out


def set_metrics(z_img: np.ndarray, z_txt: np.ndarray, *, factors: Mapping[str, np.ndarray],
                confounders: Mapping[str, np.ndarray], temperature: float, seed: int = 0) -> dict[str, float]:
    """The monitoring panel of one paired set under one model (keys ``SET_METRICS``): retrieval both
    ways, symmetry gap, cosine concentration, effective rank, variance floors, norms, hubness, factor
    and confounder MI probes, CCA and |ln(declared / fitted temperature)|."""
    zi, zt = embedding_pair(z_img, z_txt)
    if not factors or not confounders:
        raise InputError("factors and confounders: expected at least one label array each")
    r = retrieval_metrics(zi, zt, ks=(1, 5))
    hub = hubness(zi, zt, k=HUBNESS_K)
    ni, nt = norm_stats(zi), norm_stats(zt)
    out = {
        "i2t_top1": r["i2t_recall@1"], "t2i_top1": r["t2i_recall@1"],
        "top1": 0.5 * (r["i2t_recall@1"] + r["t2i_recall@1"]),
        "top5": 0.5 * (r["i2t_recall@5"] + r["t2i_recall@5"]),
        "symmetry_gap": r["symmetry_gap@1"], "abs_symmetry_gap": abs(r["symmetry_gap@1"]),
        "mean_cos_img": mean_cosine(zi), "mean_cos_txt": mean_cosine(zt),
        "eff_rank_img": effective_rank(zi), "eff_rank_txt": effective_rank(zt),
        "rank_divergence": rank_divergence(zi, zt),
        "var_p5_img": coordinate_variance(zi)["p5"], "var_p5_txt": coordinate_variance(zt)["p5"],
        "norm_mean_img": ni["mean"], "norm_mean_txt": nt["mean"], "norm_cv_img": ni["cv"], "norm_cv_txt": nt["cv"],
        "abs_log_norm_ratio": norm_divergence(zi, zt)["abs_log_mean_ratio"],
        "hub_i2t": hub["i2t_top1_concentration"], "hub_t2i": hub["t2i_top1_concentration"],
        "cca": cca_proxy(zi, zt, topk=min(CCA_TOPK, zi.shape[1])),
        "log_temperature_ratio": fit_temperature(zi, zt, float(temperature), seed=seed)["log_ratio"],
    }
    for tag, z in (("img", zi), ("txt", zt)):
        out[f"mi_factor_{tag}"] = float(np.mean([mi_proxy(z, labels, bins=MI_BINS, dims=MI_DIMS).value
                                                 for labels in factors.values()]))
        out[f"mi_confounder_{tag}"] = max(mi_proxy(z, labels, bins=MI_BINS, dims=MI_DIMS).value
                                          for labels in confounders.values())
    out["mean_cos_max"] = max(out["mean_cos_img"], out["mean_cos_txt"])
    out["eff_rank_min"] = min(out["eff_rank_img"], out["eff_rank_txt"])
    out["var_p5_min"] = min(out["var_p5_img"], out["var_p5_txt"])
    out["hub_max"] = max(out["hub_i2t"], out["hub_t2i"])
    out["mi_factor_min"] = min(out["mi_factor_img"], out["mi_factor_txt"])
    out["mi_confounder_max"] = max(out["mi_confounder_img"], out["mi_confounder_txt"])
    return {name: _finite(out[name], name) for name in SET_METRICS}


def input_drift(ref_images: np.ndarray, ref_tokens: np.ndarray, new_images: np.ndarray,
                new_tokens: np.ndarray) -> dict[str, float]:
    """Largest input-profile drift score (0 = none, 1 = disjoint) of the images and of the captions
    of a new set against a reference set (``mmgate.drift.profiles``)."""
    image = compare_profiles(compute_dataset_profile(ref_images, "vision"),
                             compute_dataset_profile(new_images, "vision"))
    text = compare_profiles(compute_dataset_profile(np.asarray(ref_tokens), "text", pad_id=PAD),
                            compute_dataset_profile(np.asarray(new_tokens), "text", pad_id=PAD))
    return {"input_drift_img": float(image["max_drift"]), "input_drift_txt": float(text["max_drift"])}


def embedding_shift(ref: np.ndarray, new: np.ndarray, seed: int = 0) -> dict[str, float]:
    """Embedding drift effect sizes of one modality: the domain-classifier advantage (2 AUC - 1, about
    0 for one distribution, 1 for separable clouds) and the centroid shift in units of the
    reference's spread."""
    advantage = domain_classifier_auc(ref, new, seed=seed, folds=DRIFT_FOLDS)["advantage"]
    return {"advantage": float(advantage), "centroid_effect": float(centroid_shift(ref, new)["effect_size"])}


def paired_shift(ref: np.ndarray, new: np.ndarray) -> float:
    """1 - mean cosine between row i of two embeddings of the same items (0 when the model did not
    move; about 1 when the space was re-learned)."""
    a = unit_rows(np.asarray(ref), "ref", np.float64)
    b = unit_rows(np.asarray(new), "new", np.float64)
    if a.shape != b.shape:
        raise InputError(f"paired_shift: ref has shape {a.shape} but new has {b.shape}; rows must be the same items")
    return float(1.0 - np.mean(np.einsum("ij,ij->i", a, b)))


def pair_audit(z_img: np.ndarray, z_txt: np.ndarray, seed: int = 0, max_items: int = 1024) -> float:
    """Share of training pairs the model scores no better than unrelated pairs (the join audit)."""
    return float(audit_pairs(z_img, z_txt, seed=seed, max_items=max_items)["suspect_fraction"])


def observation(canary: Mapping[str, float], current: Mapping[str, float],
                compare: Mapping[str, float]) -> dict[str, float]:
    """Flat observation ``{group.metric: value}`` of the three groups; every metric must be present."""
    out: dict[str, float] = {}
    for group, values, names in (("canary", canary, SET_METRICS), ("current", current, SET_METRICS),
                                 ("compare", compare, COMPARE_METRICS)):
        missing = [n for n in names if n not in values]
        if missing:
            raise InputError(f"{group}: missing metric(s) {missing}")
        out.update({f"{group}.{n}": _finite(values[n], f"{group}.{n}") for n in names})
    return out


def _check_observation(obs: Mapping[str, float], name: str) -> None:
    if not isinstance(obs, Mapping):
        raise InputError(f"{name}: expected a mapping of feature name to value, got {type(obs).__name__}")
    missing = [f for f in FEATURE_NAMES if f not in obs]
    if missing:
        raise InputError(f"{name}: missing feature(s) {missing[:5]}{' ...' if len(missing) > 5 else ''}")
    for f in FEATURE_NAMES:
        _finite(obs[f], f"{name}[{f!r}]")


def spread_floor(feature: str) -> float:
    """The floor of the spread of ``feature`` (``group.metric``)."""
    return SPREAD_FLOORS[feature.split(".", 1)[1]]


@dataclass(frozen=True)
class BaselineSpread:
    """Mean and standard deviation (ddof 1) of every feature over healthy-baseline seed repeats, and
    the floored spread that normalised deltas divide by."""

    seeds: tuple[int, ...]
    mean: Mapping[str, float]
    std: Mapping[str, float]
    scale: Mapping[str, float] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean", MappingProxyType(dict(self.mean)))
        object.__setattr__(self, "std", MappingProxyType(dict(self.std)))
        object.__setattr__(self, "scale", MappingProxyType(
            {f: max(float(self.std[f]), spread_floor(f)) for f in FEATURE_NAMES}))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready copy."""
        return {"seeds": list(self.seeds), "mean": dict(self.mean), "std": dict(self.std),
                "scale": dict(self.scale), "floors": {f: spread_floor(f) for f in FEATURE_NAMES}}


def baseline_spread(repeats: Sequence[Mapping[str, float]], seeds: Sequence[int]) -> BaselineSpread:
    """Spread of the healthy baseline's observations over seed repeats (at least two)."""
    if len(repeats) < 2 or len(repeats) != len(seeds):
        raise InputError(f"repeats: expected at least 2 observations, one per seed; got {len(repeats)} "
                         f"observations for {len(seeds)} seeds")
    for i, obs in enumerate(repeats):
        _check_observation(obs, f"repeats[{i}]")
    table = np.array([[obs[f] for f in FEATURE_NAMES] for obs in repeats], dtype=np.float64)
    return BaselineSpread(seeds=tuple(int(s) for s in seeds),
                          mean=dict(zip(FEATURE_NAMES, table.mean(axis=0).tolist())),
                          std=dict(zip(FEATURE_NAMES, table.std(axis=0, ddof=1).tolist())))


@dataclass(frozen=True)
class FeatureVector:
    """One comparison's features: the baseline and current observations, raw deltas (current -
    baseline) and normalised deltas (raw / floored baseline spread)."""

    baseline: Mapping[str, float]
    current: Mapping[str, float]
    raw: Mapping[str, float]
    normalised: Mapping[str, float]

    def __post_init__(self) -> None:
        for name in ("baseline", "current", "raw", "normalised"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))

    def to_dict(self) -> dict[str, dict[str, float]]:
        """JSON-ready copy."""
        return {"baseline": dict(self.baseline), "current": dict(self.current), "raw": dict(self.raw),
                "normalised": dict(self.normalised)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureVector:
        """Inverse of ``to_dict``."""
        if not isinstance(data, Mapping):
            raise InputError(f"feature vector: expected a mapping, got {type(data).__name__}")
        missing = [k for k in ("baseline", "current", "raw", "normalised") if k not in data]
        if missing:
            raise InputError(f"feature vector: missing key(s) {missing}")
        return cls(**{k: {str(f): float(v) for f, v in data[k].items()}
                      for k in ("baseline", "current", "raw", "normalised")})


def feature_vector(baseline: Mapping[str, float], current: Mapping[str, float],
                   spread: BaselineSpread) -> FeatureVector:
    """Raw and normalised deltas of ``current`` against ``baseline`` (same seed)."""
    _check_observation(baseline, "baseline")
    _check_observation(current, "current")
    if not isinstance(spread, BaselineSpread):
        raise InputError(f"spread: expected a BaselineSpread, got {type(spread).__name__}")
    raw = {f: float(current[f]) - float(baseline[f]) for f in FEATURE_NAMES}
    normalised = {f: raw[f] / spread.scale[f] for f in FEATURE_NAMES}
    return FeatureVector(baseline={f: float(baseline[f]) for f in FEATURE_NAMES},
                         current={f: float(current[f]) for f in FEATURE_NAMES}, raw=raw, normalised=normalised)
